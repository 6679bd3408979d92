//! The dependency rules of ARCHITECTURE.md, checked on the source of `crates/towline`:
//! which top-level module may name which (`crate::module` in code, not in comments and
//! not in test code). A new edge outside the rules, or a new module without a rule,
//! fails here with the file and line that made it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each module of `crates/towline/src` and the modules it may name. `*` is any.
const RULES: &[(&str, &[&str])] = &[
    // The edge: a URL parser that knows nothing else but how to hide secrets.
    ("uri", &["redact"]),
    // Hiding userinfo and secret query parameters in every output.
    ("redact", &[]),
    // Plumbing under everything.
    ("tls", &["error", "redact"]),
    ("body", &["error", "redact"]),
    // Request bodies built from parts.
    ("multipart", &["body", "error"]),
    // The connector: bodies, TLS and errors, never a layer.
    ("connect", &["body", "error", "redact", "tls", "uri"]),
    // The layers: each sees the connector's extension types, bodies, errors and URLs,
    // and never another layer (they meet only in `client`, which stacks them).
    ("cookie", &["body", "connect", "error", "redact", "uri"]),
    ("decompress", &["body", "connect", "error", "redact"]),
    (
        "proxy",
        &["body", "connect", "error", "redact", "tls", "uri"],
    ),
    ("redirect", &["body", "connect", "error", "redact", "uri"]),
    ("retry", &["body", "connect", "error", "redact"]),
    // The facade stacks everything.
    ("client", &["*"]),
    ("lib", &["*"]),
    // The crate's error: it names no layer and not the connector. The causes they define
    // state their `Kind` through `error::Classify`, listed in `lib.rs` (`error::Causes`).
    ("error", &["redact"]),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/towline/src")
}

/// Every `.rs` file under `dir`, recursively.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to: `connect` for `connect/pool.rs` and for
/// `connect.rs`, `lib` for `lib.rs`.
fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix(src()).expect("under src");
    let first = rel.components().next().expect("a component");
    let name = first.as_os_str().to_string_lossy();
    name.strip_suffix(".rs").unwrap_or(&name).to_owned()
}

/// `(line number, module)` for each `crate::module` in the code of `text`: comments,
/// `tests.rs` files and `#[cfg(test)]` modules left out.
fn named_modules(path: &Path, text: &str) -> Vec<(usize, String)> {
    if path.file_name().is_some_and(|n| n == "tests.rs") {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        // Test code at the end of a file may use any module.
        if code == "#[cfg(test)]" {
            if let Some((_, next)) = lines.peek() {
                if next.trim_start().starts_with("mod ") {
                    break;
                }
            }
        }
        let code = code.split(" //").next().unwrap_or(code);
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // `crate::Error` and friends are re-exports at the root (`lib`).
            let is_module = name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
            if is_module {
                out.push((i + 1, name));
            }
            rest = after;
        }
    }
    out
}

#[test]
fn modules_name_only_what_the_rules_allow() {
    let rules: BTreeMap<&str, &[&str]> = RULES.iter().copied().collect();
    let mut all = Vec::new();
    files(&src(), &mut all);
    assert!(all.len() > 20, "found the source: {} files", all.len());
    let mut broken = Vec::new();
    let mut edges: BTreeSet<(String, String)> = BTreeSet::new();
    for path in &all {
        let module = module_of(path);
        let Some(allowed) = rules.get(module.as_str()) else {
            broken.push(format!(
                "{}: the module `{module}` has no rule in tests/architecture.rs and \
                 ARCHITECTURE.md",
                path.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(path).expect("read");
        for (line, named) in named_modules(path, &text) {
            if named == module {
                continue;
            }
            edges.insert((module.clone(), named.clone()));
            if !allowed.contains(&"*") && !allowed.contains(&named.as_str()) {
                broken.push(format!(
                    "{}:{line}: `{module}` names `crate::{named}`, which its rule does not allow",
                    path.display()
                ));
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
    // The rules only matter if they describe the code: the layers do depend on the
    // connector, and the connector on TLS.
    assert!(edges.contains(&("redirect".into(), "connect".into())));
    assert!(edges.contains(&("connect".into(), "tls".into())));
}

#[test]
fn the_rules_have_no_cycle() {
    // Depth-first search over the allowed edges, with `*` left out: they must be a
    // hierarchy.
    let rules: BTreeMap<&str, Vec<&str>> = RULES
        .iter()
        .map(|(m, deps)| (*m, deps.iter().copied().filter(|d| *d != "*").collect()))
        .collect();
    fn visit<'a>(
        m: &'a str,
        rules: &BTreeMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if done.contains(m) {
            return;
        }
        assert!(!path.contains(&m), "a cycle: {path:?} -> {m}");
        path.push(m);
        for d in rules.get(m).into_iter().flatten() {
            visit(d, rules, path, done);
        }
        path.pop();
        done.insert(m);
    }
    let mut done = BTreeSet::new();
    for m in rules.keys() {
        visit(m, &rules, &mut Vec::new(), &mut done);
    }
}

/// Every type that states its `Kind` through `error::Classify` is in the list of probes
/// in `lib.rs` (`impl error::Causes for Error`): one left out would silently stop
/// answering `is_redirect()`, `is_decode()`, `is_proxy()` or `is_resolve()`.
#[test]
fn every_classified_cause_is_probed() {
    let mut all = Vec::new();
    files(&src(), &mut all);
    let lib = std::fs::read_to_string(src().join("lib.rs")).expect("read lib.rs");
    let mut classified = Vec::new();
    for path in &all {
        let text = std::fs::read_to_string(path).expect("read");
        for line in text.lines() {
            if let Some(rest) = line.trim().strip_prefix("impl Classify for ") {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                classified.push((path.display().to_string(), name));
            }
        }
    }
    assert!(
        classified.len() >= 8,
        "found the implementations: {classified:?}"
    );
    let missing: Vec<_> = classified
        .iter()
        .filter(|(_, name)| !lib.contains(&format!("::{name}>,")))
        .collect();
    assert!(
        missing.is_empty(),
        "implements error::Classify but has no probe in lib.rs: {missing:?}"
    );
}
