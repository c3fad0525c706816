//! No import circle between the files of a crate: in `classify`, `export`
//! and `capture`, the files of non-test code, linked by the `crate::`,
//! `super::` and `self::` paths they name (in `use` declarations and in
//! code), form no cycle. A circle means neither file can be read, changed or
//! tested without the other.
//!
//! How a path becomes an edge: it is resolved to the module it names (the
//! longest module prefix that is a file), then through that module's `use`
//! declarations when the next segment is a name it only imports, so
//! `use crate::AppProtocol` links to `vocab.rs`, where it is defined, not to
//! `lib.rs`, which re-exports it. A module's use of its own submodules is
//! containment, not an import: the parent owns them (they see its private
//! items, it declares them), so `media/stream.rs` using `stream/jitter.rs`
//! while `jitter.rs` uses `super::Stream` is no circle; a file's use of any
//! file outside its own subtree is an edge. `#[cfg(test)]` items and files
//! are left out.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type ModPath = Vec<String>;

/// One `use` leaf: the path it imports and the name it binds.
#[derive(Clone, Debug)]
struct Import {
    path: Vec<String>,
    name: String,
}

/// One non-test file: its module path, its imports and the paths its code names.
#[derive(Debug, Default)]
struct File {
    rel: String,
    imports: Vec<Import>,
    inline: Vec<Vec<String>>,
}

/// Blanks comments, string and char literals (newlines kept), so braces and
/// `use` inside them do not count.
fn strip(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('#') || next == Some('"'))
            && !b
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            for &x in &b[i..j.min(b.len())] {
                out.push(blank(x));
            }
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < b.len() {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}'), not a lifetime.
            let end = if next == Some('\\') {
                (i + 3..b.len().min(i + 12)).find(|&k| b[k] == '\'')
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(e) => {
                    for _ in i..=e {
                        out.push(' ');
                    }
                    i = e + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The index just past the item starting at `at`: its `;`, or the brace
/// closing its body.
fn item_end(s: &[u8], at: usize) -> usize {
    let mut depth = 0i32;
    let mut i = at;
    while i < s.len() {
        match s[i] {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            b';' if depth == 0 => return i + 1,
            _ => {}
        }
        i += 1;
    }
    s.len()
}

/// The text without its `#[cfg(test)]` items, and the names of the
/// modules declared under `#[cfg(test)]` (`mod tests;`).
fn drop_tests(s: &str) -> (String, Vec<String>) {
    let mut out = s.as_bytes().to_vec();
    let mut test_mods = Vec::new();
    let mut from = 0;
    while let Some(k) = s[from..].find("#[cfg(test)]") {
        let at = from + k;
        let end = item_end(s.as_bytes(), at + "#[cfg(test)]".len());
        let item = &s[at..end];
        if let Some(m) = item.split_whitespace().skip_while(|w| *w != "mod").nth(1) {
            if item.trim_end().ends_with(';') {
                test_mods.push(m.trim_end_matches(';').to_string());
            }
        }
        for c in &mut out[at..end] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
        from = end;
    }
    (String::from_utf8(out).unwrap(), test_mods)
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Tokens of a `use` tree: identifiers, `::`, `{`, `}`, `,`, `*`.
fn tokens(s: &str) -> Vec<String> {
    let mut t = Vec::new();
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < c.len() {
        if is_ident(c[i]) {
            let st = i;
            while i < c.len() && is_ident(c[i]) {
                i += 1;
            }
            t.push(c[st..i].iter().collect());
        } else if c[i] == ':' && c.get(i + 1) == Some(&':') {
            t.push("::".into());
            i += 2;
        } else {
            if !c[i].is_whitespace() {
                t.push(c[i].to_string());
            }
            i += 1;
        }
    }
    t
}

/// Expands a `use` tree (tokens after `use`, up to the `;`) into its leaves.
fn expand(t: &[String], i: &mut usize, prefix: &[String], out: &mut Vec<Import>) {
    let mut path = prefix.to_vec();
    while *i < t.len() {
        match t[*i].as_str() {
            "::" => *i += 1,
            "{" => {
                *i += 1;
                loop {
                    expand(t, i, &path, out);
                    match t.get(*i).map(String::as_str) {
                        Some(",") => *i += 1,
                        Some("}") => {
                            *i += 1;
                            return;
                        }
                        _ => return,
                    }
                    if t.get(*i).map(String::as_str) == Some("}") {
                        *i += 1;
                        return;
                    }
                }
            }
            "*" => {
                *i += 1;
                out.push(Import {
                    path: path.clone(),
                    name: "*".into(),
                });
                return;
            }
            "," | "}" | ";" => break,
            "as" => {
                let name = t.get(*i + 1).cloned().unwrap_or_default();
                *i += 2;
                out.push(Import {
                    path: path.clone(),
                    name,
                });
                return;
            }
            w => {
                path.push(w.to_string());
                *i += 1;
            }
        }
    }
    // `self` in a group names the module itself.
    if path.last().map(String::as_str) == Some("self") {
        path.pop();
    }
    if let Some(name) = path.last().cloned() {
        out.push(Import { path, name });
    }
}

/// The `use` declarations and the inline `crate::`/`super::`/`self::` paths
/// of a stripped, test-free text.
fn parse(s: &str) -> (Vec<Import>, Vec<Vec<String>>) {
    let mut imports = Vec::new();
    let mut from = 0;
    while let Some(k) = s[from..].find("use ") {
        let at = from + k;
        from = at + 4;
        if s[..at].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let end = s[at..].find(';').map_or(s.len(), |e| at + e + 1);
        let t = tokens(&s[at + 4..end.saturating_sub(1)]);
        let mut i = 0;
        expand(&t, &mut i, &[], &mut imports);
        from = end;
    }
    let mut inline = Vec::new();
    let t = tokens(s);
    let mut i = 0;
    while i < t.len() {
        let starts = matches!(t[i].as_str(), "crate" | "super" | "self")
            && t.get(i + 1).map(String::as_str) == Some("::")
            && (i == 0 || t[i - 1] != "::");
        if starts {
            let mut p = vec![t[i].clone()];
            let mut j = i + 1;
            while t.get(j).map(String::as_str) == Some("::")
                && t.get(j + 1).is_some_and(|w| w.chars().all(is_ident))
            {
                p.push(t[j + 1].clone());
                j += 2;
            }
            inline.push(p);
            i = j;
        } else {
            i += 1;
        }
    }
    (imports, inline)
}

/// The non-test files of a crate's `src/`, by module path.
fn crate_files(src: &Path) -> BTreeMap<ModPath, File> {
    let mut paths = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                paths.push(p);
            }
        }
    }
    let has_lib = src.join("lib.rs").exists();
    let mut files = BTreeMap::new();
    let mut test_files: BTreeSet<ModPath> = BTreeSet::new();
    for p in paths {
        let rel = p
            .strip_prefix(src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if has_lib && rel == "main.rs" {
            // The binary's root: it reaches the library by its name, not `crate::`.
            continue;
        }
        let mut m: ModPath = rel
            .trim_end_matches(".rs")
            .split('/')
            .map(String::from)
            .collect();
        if matches!(m.last().map(String::as_str), Some("mod" | "lib" | "main")) {
            m.pop();
        }
        let (text, tests) = drop_tests(&strip(&std::fs::read_to_string(&p).unwrap()));
        for t in tests {
            let mut tm = m.clone();
            tm.push(t);
            test_files.insert(tm);
        }
        let (imports, inline) = parse(&text);
        files.insert(
            m,
            File {
                rel,
                imports,
                inline,
            },
        );
    }
    files.retain(|m, _| !test_files.iter().any(|t| m.starts_with(t)));
    files
}

/// The absolute module path a path names from module `at`, or None for
/// another crate's.
fn absolute(files: &BTreeMap<ModPath, File>, at: &[String], p: &[String]) -> Option<Vec<String>> {
    let mut base: Vec<String> = at.to_vec();
    let mut rest = p;
    match p.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &p[1..];
        }
        Some("self") => rest = &p[1..],
        Some("super") => {
            while rest.first().map(String::as_str) == Some("super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        Some(first) => {
            // 2018 paths: a child module of this one, else another crate.
            let mut child = at.to_vec();
            child.push(first.to_string());
            if !files.contains_key(&child) {
                return None;
            }
        }
        None => return None,
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The file a path from module `at` leads to, through re-exports.
fn resolve(
    files: &BTreeMap<ModPath, File>,
    at: &[String],
    p: &[String],
    depth: u8,
) -> Option<ModPath> {
    let abs = absolute(files, at, p)?;
    let n = (0..=abs.len())
        .rev()
        .find(|&n| files.contains_key(&abs[..n]))?;
    let module = abs[..n].to_vec();
    if depth < 8 {
        if let Some(next) = abs.get(n) {
            let file = &files[&module];
            if let Some(i) = file.imports.iter().find(|i| &i.name == next) {
                let mut q = i.path.clone();
                q.extend(abs[n + 1..].iter().cloned());
                if let Some(t) = resolve(files, &module, &q, depth + 1) {
                    return Some(t);
                }
            }
        }
    }
    Some(module)
}

/// The import edges between a crate's files.
fn edges(files: &BTreeMap<ModPath, File>) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let mut g: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (m, f) in files {
        let paths = f
            .imports
            .iter()
            .map(|i| i.path.clone())
            .chain(f.inline.iter().cloned());
        let out = g.entry(m.clone()).or_default();
        for p in paths {
            if let Some(t) = resolve(files, m, &p, 0) {
                if !t.starts_with(m) {
                    out.insert(t);
                }
            }
        }
    }
    g
}

/// Every cycle's files (one per strongly connected component of more than
/// one file), in a readable order.
fn cycles(g: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    // Reachability is enough at this size (about a hundred files).
    let reach = |from: &ModPath| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(x) = stack.pop() {
            for y in g.get(&x).into_iter().flatten() {
                if seen.insert(y.clone()) {
                    stack.push(y.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&ModPath, BTreeSet<ModPath>> = g.keys().map(|k| (k, reach(k))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for k in g.keys() {
        if done.contains(k) || !reaches[k].contains(k) {
            continue;
        }
        let scc: Vec<ModPath> = reaches[k]
            .iter()
            .filter(|o| reaches.get(o).is_some_and(|r| r.contains(k)))
            .cloned()
            .collect();
        done.extend(scc.iter().cloned());
        out.push(path_through(g, &scc));
    }
    out
}

/// One circle through a component: from its first file along edges inside
/// it back to that file.
fn path_through(g: &BTreeMap<ModPath, BTreeSet<ModPath>>, scc: &[ModPath]) -> Vec<ModPath> {
    let inside: BTreeSet<&ModPath> = scc.iter().collect();
    let start = &scc[0];
    // Breadth first, for the shortest circle back to the start.
    let mut prev: BTreeMap<ModPath, ModPath> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.clone()]);
    while let Some(x) = queue.pop_front() {
        for y in g
            .get(&x)
            .into_iter()
            .flatten()
            .filter(|y| inside.contains(y))
        {
            if y == start {
                let mut p = vec![x.clone()];
                while let Some(b) = prev.get(p.last().unwrap()) {
                    p.push(b.clone());
                }
                p.reverse();
                return p;
            }
            if !prev.contains_key(y) {
                prev.insert(y.clone(), x.clone());
                queue.push_back(y.clone());
            }
        }
    }
    scc.to_vec()
}

/// The circles of the crate at `src`, each as `a.rs -> b.rs -> a.rs`.
fn circles(src: &Path) -> Vec<String> {
    let files = crate_files(src);
    cycles(&edges(&files))
        .into_iter()
        .map(|c| {
            let mut names: Vec<&str> = c.iter().map(|m| files[m].rel.as_str()).collect();
            names.push(names[0]);
            names.join(" -> ")
        })
        .collect()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn no_crate_has_an_import_circle_between_its_files() {
    let mut found = Vec::new();
    for krate in ["classify", "export", "capture"] {
        let src = workspace().join(krate).join("src");
        let files = crate_files(&src);
        let g = edges(&files);
        let n: usize = g.values().map(BTreeSet::len).sum();
        // A parser that found nothing would pass vacuously.
        assert!(
            files.len() > 15 && n > files.len(),
            "{krate}: {} files, {n} edges",
            files.len()
        );
        found.extend(
            circles(&src)
                .into_iter()
                .map(|c| format!("{krate}/src: {c}")),
        );
    }
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

/// A small crate on disk, to check the checker itself.
fn fake_crate(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (p, text) in files {
        let p = d.path().join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    d
}

#[test]
fn the_checker_finds_circles_through_re_exports_and_inline_paths_and_ignores_tests() {
    let lib = "pub mod a;\npub mod b;\npub mod c;\npub mod m;\npub use a::A;\n";
    // b -> a through the root's re-export; a -> c by an inline path; c -> b.
    let d = fake_crate(&[
        ("lib.rs", lib),
        ("a.rs", "pub struct A;\nfn f() -> crate::c::C { todo!() }\n"),
        ("b.rs", "use crate::A;\npub struct B;\n"),
        ("c.rs", "use super::b::{self, B as Bee};\npub struct C;\n"),
        ("m/mod.rs", "mod x;\npub use x::X;\npub struct Shared;\n"),
        ("m/x.rs", "use super::Shared;\npub struct X;\n"),
    ]);
    assert_eq!(circles(d.path()), ["a.rs -> c.rs -> b.rs -> a.rs"]);
    // The same in test code only, in strings and in comments: no circle.
    let d = fake_crate(&[
        ("lib.rs", lib),
        (
            "a.rs",
            "pub struct A;\n// crate::c::C\nconst S: &str = \"crate::c::C {\";\n",
        ),
        (
            "b.rs",
            "#[cfg(test)]\nmod t {\n    use crate::A;\n}\n#[cfg(test)]\nmod tests;\n",
        ),
        ("tests.rs", ""),
        ("b/tests.rs", "use crate::A;\n"),
        ("c.rs", "use super::b;\npub struct C;\n"),
        ("m/mod.rs", "mod x;\npub use x::X;\npub struct Shared;\n"),
        ("m/x.rs", "use super::Shared;\npub struct X;\n"),
    ]);
    assert_eq!(circles(d.path()), Vec::<String>::new());
    // A submodule using a sibling of its parent that uses the submodule
    // through the parent's re-export.
    let d = fake_crate(&[
        ("lib.rs", "pub mod m;\npub mod n;\n"),
        ("m/mod.rs", "mod x;\npub use x::X;\npub struct Shared;\n"),
        ("m/x.rs", "use crate::n::N;\npub struct X(N);\n"),
        ("n.rs", "pub struct N;\npub fn f(_: super::m::X) {}\n"),
    ]);
    assert_eq!(circles(d.path()), ["m/x.rs -> n.rs -> m/x.rs"]);
}
