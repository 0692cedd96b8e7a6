//! The house rules of ARCHITECTURE.md, checked on the source: no module imports another that
//! (directly or not) imports it back, and the layers named there import only downwards.
//!
//! A module is a file. An edge is a `crate::…`, `super::…` or `self::…` path in a file's code
//! (use statements and inline paths), resolved to the file that defines the deepest module it
//! names. A parent's paths into its own children are structure (`mod`, re-exports), not edges;
//! a child's paths up to its parent are. Test modules (`#[cfg(test)]` blocks and files named
//! `tests.rs` or under a `tests/` folder of a crate's `src/`) are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One crate's modules: module path (`["rest", "error"]`) → file, and file → module path.
struct Crate {
    name: &'static str,
    modules: BTreeMap<Vec<String>, PathBuf>,
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of `file` under `src`, or `None` for test-only files.
fn module_path(src: &Path, file: &Path) -> Option<Vec<String>> {
    let rel = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop()?;
    if last == "tests.rs" || parts.iter().any(|p| p == "tests") {
        return None;
    }
    match last.as_str() {
        "mod.rs" | "lib.rs" | "main.rs" => {}
        other => parts.push(other.trim_end_matches(".rs").to_owned()),
    }
    Some(parts)
}

fn load(name: &'static str, src: &Path, keep: impl Fn(&[String], &Path) -> bool) -> Crate {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules =
        files.into_iter().filter_map(|f| module_path(src, &f).filter(|m| keep(m, &f)).map(|m| (m, f))).collect();
    Crate { name, modules }
}

/// The code of a file without comments, string literals and test modules.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let mut prev = ' ';
                for c in chars.by_ref() {
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if c == '"' && !escaped {
                        break;
                    }
                    escaped = c == '\\' && !escaped;
                }
                out.push_str("\"\"");
            }
            '\'' => {
                // A char literal ('x', '\n', '"') is skipped; a lifetime ('a) is kept as is.
                let rest: String = chars.clone().take(3).collect();
                let literal_len = if rest.starts_with('\\') {
                    rest.find('\'').map(|i| i + 1)
                } else if rest.chars().nth(1) == Some('\'') {
                    Some(2)
                } else {
                    None
                };
                match literal_len {
                    Some(n) => {
                        for _ in 0..n {
                            chars.next();
                        }
                        out.push_str("' '");
                    }
                    None => out.push(c),
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Expands `use` trees (`crate::{a::B, c::{d, e}}`) into flat paths, plus every inline path.
fn paths_in(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let at_word_start = i == 0 || !(bytes[i - 1].is_alphanumeric() || bytes[i - 1] == '_' || bytes[i - 1] == ':');
        if at_word_start && bytes[i].is_alphabetic() {
            let (tree, end) = parse_tree(&bytes, i);
            if tree.iter().any(|p| p.len() > 1) {
                paths.extend(tree.into_iter().filter(|p| matches!(p[0].as_str(), "crate" | "super" | "self")));
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    paths
}

/// Parses `seg::seg::{…}` from `start`; returns the flattened paths and where it stopped.
fn parse_tree(chars: &[char], start: usize) -> (Vec<Vec<String>>, usize) {
    let mut prefix = Vec::new();
    let mut i = start;
    loop {
        let word_start = i;
        while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        if i == word_start {
            break;
        }
        prefix.push(chars[word_start..i].iter().collect::<String>());
        if chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&':') {
            i += 2;
            while chars.get(i).is_some_and(|c| c.is_whitespace()) {
                i += 1;
            }
            if chars.get(i) == Some(&'{') {
                let mut out = Vec::new();
                i += 1;
                loop {
                    while chars.get(i).is_some_and(|c| c.is_whitespace() || *c == ',') {
                        i += 1;
                    }
                    match chars.get(i) {
                        None => return (out, i),
                        Some('}') => return (out, i + 1),
                        Some(c) if c.is_alphabetic() || *c == '_' || *c == '*' => {
                            if *c == '*' {
                                out.push(prefix.clone());
                                i += 1;
                                continue;
                            }
                            let (inner, end) = parse_tree(chars, i);
                            out.extend(inner.into_iter().map(|p| [prefix.clone(), p].concat()));
                            i = end;
                            // `x as y`
                            while chars.get(i).is_some_and(|c| *c != ',' && *c != '}') {
                                i += 1;
                            }
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            continue;
        }
        break;
    }
    (vec![prefix], i)
}

/// The file a path names from module `from`, or `None` when it names no module of this crate.
fn resolve(krate: &Crate, from: &[String], path: &[String]) -> Option<PathBuf> {
    let mut base: Vec<String> = if path[0] == "crate" { Vec::new() } else { from.to_vec() };
    let mut rest = path;
    while let Some(first) = rest.first() {
        match first.as_str() {
            "crate" | "self" => rest = &rest[1..],
            "super" => {
                base.pop();
                rest = &rest[1..];
            }
            _ => break,
        }
    }
    let mut best = krate.modules.get(&base).cloned();
    let mut module = base;
    for segment in rest {
        module.push(segment.clone());
        match krate.modules.get(&module) {
            Some(file) => best = Some(file.clone()),
            None => break,
        }
    }
    best
}

/// file → the files it imports (ancestors' paths into descendants left out).
fn edges(krate: &Crate) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let by_file: BTreeMap<&PathBuf, &Vec<String>> = krate.modules.iter().map(|(m, f)| (f, m)).collect();
    let mut graph = BTreeMap::new();
    for (module, file) in &krate.modules {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut targets = BTreeSet::new();
        for path in paths_in(&code_of(&text)) {
            let Some(target) = resolve(krate, module, &path) else { continue };
            let target_module = by_file[&target];
            let is_descendant = target_module.len() >= module.len() && target_module[..module.len()] == module[..];
            if !is_descendant {
                targets.insert(target);
            }
        }
        graph.insert(file.clone(), targets);
    }
    graph
}

/// Strongly connected components with more than one file (Tarjan).
fn circles(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        on_stack: BTreeSet<&'a PathBuf>,
        found: Vec<Vec<PathBuf>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a PathBuf) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.found
}

fn crates() -> Vec<Crate> {
    let root = workspace();
    let in_binary = |m: &[String], f: &Path| f.ends_with("main.rs") || m.first().is_some_and(|s| s == "cli");
    let not_binary = |_: &[String], f: &Path| !f.ends_with("main.rs") && !f.ends_with("bin");
    vec![
        load("tributary (library)", &root.join("src"), move |m, f| !in_binary(m, f)),
        // The binary's own modules, `main.rs` and `cli/`, whose `crate::` is the binary.
        load("tributary (binary)", &root.join("src"), in_binary),
        load("connector api", &root.join("connectors/api/src"), not_binary),
        load("genesys connector", &root.join("connectors/genesys/src"), not_binary),
        load("genesys simulator", &root.join("simulators/genesys-cloud/src"), not_binary),
    ]
}

#[test]
fn no_module_imports_itself_back() {
    let mut report = Vec::new();
    for krate in crates() {
        assert!(krate.modules.len() > 1, "{}: no modules found", krate.name);
        for circle in circles(&edges(&krate)) {
            let names: Vec<String> =
                circle.iter().map(|f| f.strip_prefix(workspace()).unwrap_or(f).display().to_string()).collect();
            report.push(format!("{}: {}", krate.name, names.join(" ↔ ")));
        }
    }
    assert!(report.is_empty(), "import circles:\n{}", report.join("\n"));
}

/// Layers that must not import certain others (see ARCHITECTURE.md).
#[test]
fn layers_import_only_downwards() {
    let rules: [(&str, &str, &[&str]); 5] = [
        // The Kafka adapter sends and reports deliveries; offsets are a layer above it.
        ("tributary (library)", "kafka", &["offsets", "instance", "supervisor", "runtime", "rest", "cluster"]),
        ("tributary (library)", "supervisor", &["cluster", "rest", "runtime"]),
        ("tributary (library)", "cluster", &["rest", "runtime", "reload"]),
        // The simulator's org state sits below its HTTP and WebSocket handlers.
        (
            "genesys simulator",
            "org",
            &["analytics", "auth", "channels", "queues", "socket", "subscriptions", "traffic", "server", "handle"],
        ),
        // HTTP plumbing knows neither tokens nor the REST client.
        ("genesys connector", "http", &["auth", "rest", "api"]),
    ];
    let mut report = Vec::new();
    for krate in crates() {
        let by_file: BTreeMap<PathBuf, Vec<String>> =
            krate.modules.iter().map(|(m, f)| (f.clone(), m.clone())).collect();
        for (file, targets) in edges(&krate) {
            let from = &by_file[&file];
            for (name, layer, forbidden) in &rules {
                if *name != krate.name || from.first().map(String::as_str) != Some(layer) {
                    continue;
                }
                for target in &targets {
                    let to = &by_file[target];
                    if to.first().is_some_and(|t| forbidden.contains(&t.as_str())) {
                        report.push(format!("{}: {} imports {}", krate.name, from.join("::"), to.join("::")));
                    }
                }
            }
        }
    }
    assert!(report.is_empty(), "imports against the layering:\n{}", report.join("\n"));
}

/// A production build of the connector links no simulated org: the simulator is only a
/// development dependency of the connector crate.
#[test]
fn the_connector_does_not_depend_on_the_simulator() {
    let manifest = std::fs::read_to_string(workspace().join("connectors/genesys/Cargo.toml")).expect("the manifest");
    let dependencies = manifest.split("[dependencies]").nth(1).expect("a [dependencies] table");
    let dependencies = dependencies.split("\n[").next().unwrap_or(dependencies);
    assert!(
        !dependencies.contains("genesys-cloud-sim"),
        "connectors/genesys depends on the simulator:\n{dependencies}"
    );
}

#[test]
fn the_parser_sees_trees_and_inline_paths() {
    let code = code_of(
        "use crate::{a::B, c::{d, e::F as G}};\n// crate::commented::Out\nfn f() { super::h::i(); let s = \"crate::in_string\"; }\n#[cfg(test)]\nmod tests { use crate::t; }",
    );
    let paths: BTreeSet<String> = paths_in(&code).into_iter().map(|p| p.join("::")).collect();
    let expected: BTreeSet<String> =
        ["crate::a::B", "crate::c::d", "crate::c::e::F", "super::h::i"].into_iter().map(String::from).collect();
    assert_eq!(paths, expected);
}

#[test]
fn circles_are_found_and_trees_are_not() {
    let graph = |edges: &[(&str, &str)]| {
        let mut g: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
        for (from, to) in edges {
            g.entry(PathBuf::from(from)).or_default().insert(PathBuf::from(to));
            g.entry(PathBuf::from(to)).or_default();
        }
        g
    };
    assert!(circles(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])).is_empty());
    let found = circles(&graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]));
    assert_eq!(found, vec![vec![PathBuf::from("a"), PathBuf::from("b"), PathBuf::from("c")]]);
}
