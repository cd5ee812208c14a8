//! Rule ids resolve: every rule (`R…`), open question (`OQ-…`) or matrix scenario (`T…`) that
//! the repository cites has its section in `docs/nmr-contract.md`, and every test that file
//! names under "Tests" exists where it says.
//!
//! The contract these ids come from lives outside the repository, so without this check a
//! comment or a test name could cite an id nobody can look up, and the document's lists of
//! tests would rot silently when a test is renamed.
//!
//! Citation forms recognised (hand-written scanning: the workspace has no `regex`):
//! - in prose and comments, a whole word `R` + 1–2 digits, `OQ` + optional `-` + 1–2 digits
//!   (`OQ-8`, `OQ-08`, `OQ8`), and `T1`…`T12`;
//! - in snake-case identifiers (test names), a segment followed by `_` that is `r` + 2 digits,
//!   `oq` + 2 digits, or `t01`…`t12` (`r11_oq07_…`, `t07_…`).
//!
//! `T` + digits is counted only up to 12 and only as a whole word or a two-digit name segment,
//! so generic parameters such as `T13` never count; a `T1` generic would count, harmlessly,
//! since `T1` is defined.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The document every cited id must resolve in.
const CONTRACT: &str = "docs/nmr-contract.md";

/// File kinds that carry source or prose; anything else (binaries, lock files) is skipped.
const TEXT_EXTENSIONS: &[&str] = &["rs", "md", "toml", "c", "h", "stderr"];

/// Where to look when git is not available (a source tarball, say).
const WALK_ROOTS: &[&str] =
    &["suite", "tests", "npi-runtime", "npi-macros", "npis", "examples", "xtask", "docs"];

/// The contract's ids: rules R1–R35, open questions OQ-1–OQ-20 and scenarios T1–T12. The
/// contract itself is not in the repository, so its id set is pinned here; if it grows, this
/// and the document grow together.
const RULES: u32 = 35;
const QUESTIONS: u32 = 20;
const SCENARIOS: u32 = 12;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Id {
    Rule(u32),
    Question(u32),
    Scenario(u32),
}

impl Id {
    /// The HTML anchor the document puts before the id's heading (`#r23`, `#oq-8`, `#t7`).
    fn anchor(self) -> String {
        match self {
            Id::Rule(n) => format!("r{n}"),
            Id::Question(n) => format!("oq-{n}"),
            Id::Scenario(n) => format!("t{n}"),
        }
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Rule(n) => write!(f, "R{n}"),
            Id::Question(n) => write!(f, "OQ-{n}"),
            Id::Scenario(n) => write!(f, "T{n}"),
        }
    }
}

/// The repository: this package is its `suite/`.
fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `digits` as a number if it is 1 or 2 ASCII digits (`width` 0), or exactly `width` digits.
fn small_number(digits: &[u8], width: usize) -> Option<u32> {
    let ok = if width == 0 { (1..=2).contains(&digits.len()) } else { digits.len() == width };
    if !ok || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
}

fn scenario(n: u32) -> Option<Id> {
    (1..=SCENARIOS).contains(&n).then_some(Id::Scenario(n))
}

/// A whole word that is a citation in prose or a comment: `R23`, `OQ8`, `T7`. (`OQ-8` is two
/// words; [`citations`] joins them.)
fn prose_id(word: &[u8]) -> Option<Id> {
    match word {
        [b'R', digits @ ..] => small_number(digits, 0).map(Id::Rule),
        [b'O', b'Q', digits @ ..] => small_number(digits, 0).map(Id::Question),
        [b'T', digits @ ..] => small_number(digits, 0).and_then(scenario),
        _ => None,
    }
}

/// Citations inside a snake-case identifier, the test-name convention: `r09_…`, `r22_r10_…`,
/// `r11_oq07_…`, `strict_mode_aborts_on_oq08_…`, `t07_…`. Exactly two digits, and only for a
/// segment followed by `_`, so that names such as the x86 register `r10` are not citations.
fn identifier_ids(word: &[u8], mut cite: impl FnMut(Id)) {
    let mut segments = word.split(|&b| b == b'_').peekable();
    while let Some(segment) = segments.next() {
        if segments.peek().is_none() {
            break; // the last segment has no `_` after it
        }
        let id = match segment {
            [b'r', digits @ ..] => small_number(digits, 2).map(Id::Rule),
            [b'o', b'q', digits @ ..] => small_number(digits, 2).map(Id::Question),
            [b't', digits @ ..] => small_number(digits, 2).and_then(scenario),
            _ => None,
        };
        id.into_iter().for_each(&mut cite);
    }
}

/// Every id cited in `text`, with its 1-based line number. One pass over the words of the
/// text, allocating nothing but the result: the whole repository is scanned, also under
/// valgrind by `cargo xtask memcheck`.
fn citations(text: &str) -> Vec<(Id, usize)> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < b.len() {
        if b[i] == b'\n' {
            line += 1;
        }
        if !is_word(b[i]) {
            i += 1;
            continue;
        }
        let end = i + b[i..].iter().take_while(|&&c| is_word(c)).count();
        let word = &b[i..end];
        let mut id = prose_id(word);
        if word == b"OQ" && b.get(end) == Some(&b'-') {
            let digits = b[end + 1..].iter().take_while(|&&c| is_word(c)).count();
            id = small_number(&b[end + 1..end + 1 + digits], 0).map(Id::Question);
        }
        found.extend(id.map(|id| (id, line)));
        if word.contains(&b'_') {
            identifier_ids(word, |id| found.push((id, line)));
        }
        i = end;
    }
    found
}

/// The tracked (and new, not ignored) files of the repository, relative to its root; a walk of
/// the source directories when git cannot say.
fn repository_files(root: &Path) -> Vec<PathBuf> {
    let listed = Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success() && !o.stdout.is_empty());
    let files: Vec<PathBuf> = match listed {
        Some(o) => String::from_utf8_lossy(&o.stdout)
            .split('\0')
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .collect(),
        None => {
            let mut files = Vec::new();
            for dir in WALK_ROOTS {
                walk(root, Path::new(dir), &mut files);
            }
            if let Ok(entries) = fs::read_dir(root) {
                files.extend(entries.flatten().map(|e| PathBuf::from(e.file_name())));
            }
            files
        }
    };
    files
        .into_iter()
        .filter(|p| !p.starts_with("target"))
        .filter(|p| {
            p.extension().and_then(|e| e.to_str()).is_some_and(|e| TEXT_EXTENSIONS.contains(&e))
        })
        // A file deleted in the work tree but still tracked has nothing to cite.
        .filter(|p| root.join(p).is_file())
        .collect()
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(root.join(dir)) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let rel = dir.join(&name);
        let hidden = name.to_string_lossy().starts_with('.');
        match entry.file_type() {
            Ok(t) if t.is_dir() && !hidden && name != "target" => walk(root, &rel, out),
            Ok(t) if t.is_file() => out.push(rel),
            _ => {}
        }
    }
}

fn read(root: &Path, rel: &Path) -> String {
    let bytes = fs::read(root.join(rel)).unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The id a heading defines: its first word, written exactly as `R23`, `OQ-8` or `T7`.
fn heading_id(line: &str) -> Option<Id> {
    let title = line.strip_prefix('#')?.trim_start_matches('#').strip_prefix(' ')?;
    let word = title.split_whitespace().next()?;
    let number = |digits: &str| -> Option<u32> {
        let canonical = !digits.is_empty() && !digits.starts_with('0');
        if canonical && digits.bytes().all(|b| b.is_ascii_digit()) {
            digits.parse().ok()
        } else {
            None
        }
    };
    if let Some(d) = word.strip_prefix("OQ-") {
        number(d).map(Id::Question)
    } else if let Some(d) = word.strip_prefix('R') {
        number(d).map(Id::Rule)
    } else {
        word.strip_prefix('T').and_then(number).map(Id::Scenario)
    }
}

/// Each id the document defines, with the lines of its headings and whether the line before
/// each heading (blank lines skipped) is its anchor.
fn definitions(contract: &str) -> BTreeMap<Id, Vec<(usize, bool)>> {
    let lines: Vec<&str> = contract.lines().collect();
    let mut defined: BTreeMap<Id, Vec<(usize, bool)>> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(id) = heading_id(line) else { continue };
        let before = lines[..i].iter().rev().find(|l| !l.trim().is_empty());
        let anchored =
            before.is_some_and(|l| l.trim() == format!("<a id=\"{}\"></a>", id.anchor()));
        defined.entry(id).or_default().push((i + 1, anchored));
    }
    defined
}

#[test]
fn every_cited_rule_id_is_defined_in_the_contract() {
    let root = root();
    let defined = definitions(&read(&root, Path::new(CONTRACT)));
    let mut cited: BTreeMap<Id, Vec<String>> = BTreeMap::new();
    for file in repository_files(&root) {
        for (id, line) in citations(&read(&root, &file)) {
            cited.entry(id).or_default().push(format!("{}:{line}", file.display()));
        }
    }
    // A scanner that silently found nothing would pass vacuously: the conformance suite's
    // test names alone cite every scenario and most rules.
    let scenarios = cited.keys().filter(|id| matches!(id, Id::Scenario(_))).count();
    assert_eq!(scenarios, SCENARIOS as usize, "the matrix test names were not all recognised");
    assert!(cited.len() > 50, "only {} distinct ids found; is the scanner broken?", cited.len());

    let unresolved: Vec<String> = cited
        .iter()
        .filter(|(id, _)| !defined.contains_key(id))
        .map(|(id, places)| format!("  {id}, cited at {}", places.join(", ")))
        .collect();
    assert!(
        unresolved.is_empty(),
        "rule ids cited but not defined in {CONTRACT} (add an `<id> — …` heading there, or \
         fix the citation):\n{}",
        unresolved.join("\n")
    );
}

#[test]
fn the_contract_defines_each_id_once_under_its_anchor() {
    let defined = definitions(&read(&root(), Path::new(CONTRACT)));
    let expected: BTreeSet<Id> = (1..=RULES)
        .map(Id::Rule)
        .chain((1..=QUESTIONS).map(Id::Question))
        .chain((1..=SCENARIOS).map(Id::Scenario))
        .collect();
    let mut problems = Vec::new();
    for id in &expected {
        match defined.get(id).map(Vec::as_slice) {
            None => problems.push(format!("{id}: no section")),
            Some([(_, true)]) => {}
            Some([(line, false)]) => problems.push(format!(
                "{id}: heading at {CONTRACT}:{line} is not preceded by <a id=\"{}\"></a>",
                id.anchor()
            )),
            Some(many) => {
                problems.push(format!("{id}: {} sections, at lines {many:?}", many.len()))
            }
        }
    }
    for (id, places) in &defined {
        if !expected.contains(id) {
            problems.push(format!(
                "{id}: defined at {CONTRACT}:{} but not in the contract",
                places[0].0
            ));
        }
    }
    assert!(problems.is_empty(), "{CONTRACT}:\n  {}", problems.join("\n  "));
}

/// The file that holds test `path` (`binary::module::function`, `binary::function`, or the
/// xtask's `xtask::module::function`), and the function's name.
fn test_location(path: &str) -> Option<(PathBuf, &str)> {
    let parts: Vec<&str> = path.split("::").collect();
    match parts.as_slice() {
        ["xtask", module, function] => {
            Some((PathBuf::from(format!("xtask/src/{module}.rs")), function))
        }
        [binary, module, function] => {
            Some((PathBuf::from(format!("suite/tests/{binary}/{module}.rs")), function))
        }
        [binary, function] => Some((PathBuf::from(format!("suite/tests/{binary}.rs")), function)),
        _ => None,
    }
}

/// Backticked spans of the document's "Tests" entries (each may continue on indented lines),
/// with the line they are on.
fn named_tests(contract: &str) -> Vec<(String, usize)> {
    let mut named = Vec::new();
    let mut inside = false;
    for (n, line) in contract.lines().enumerate() {
        if line.contains("**Tests:**") {
            inside = true;
        } else if !line.starts_with("  ") || line.trim().is_empty() {
            inside = false;
        }
        if inside {
            let spans = line.split('`').skip(1).step_by(2);
            named.extend(spans.map(|s| (s.to_owned(), n + 1)));
        }
    }
    named
}

#[test]
fn every_test_the_contract_names_exists() {
    let root = root();
    let named = named_tests(&read(&root, Path::new(CONTRACT)));
    assert!(named.len() > 100, "only {} tests named; is the parser broken?", named.len());
    let mut missing = Vec::new();
    for (name, line) in &named {
        if name.contains('/') {
            // A file, such as a compile-fail case.
            if !root.join(name).is_file() {
                missing.push(format!("{CONTRACT}:{line}: no file {name}"));
            }
            continue;
        }
        let Some((file, function)) = test_location(name) else {
            missing.push(format!("{CONTRACT}:{line}: `{name}` is not binary::[module::]function"));
            continue;
        };
        let found = fs::read_to_string(root.join(&file))
            .is_ok_and(|text| text.contains(&format!("fn {function}(")));
        if !found {
            missing.push(format!("{CONTRACT}:{line}: no `fn {function}` in {}", file.display()));
        }
    }
    assert!(
        missing.is_empty(),
        "tests named in the contract that do not exist:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn the_scanner_reads_every_citation_form_and_skips_look_alikes() {
    let ids = |text: &str| citations(text).into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    use Id::{Question, Rule, Scenario};
    assert_eq!(ids("see R23, R1–R35 and (OQ-8)"), [Rule(23), Rule(1), Rule(35), Question(8)]);
    assert_eq!(ids("OQ-08 OQ8 T1 T12"), [Question(8), Question(8), Scenario(1), Scenario(12)]);
    assert_eq!(ids("fn r11_oq07_client_fails()"), [Rule(11), Question(7)]);
    assert_eq!(ids("fn strict_mode_aborts_on_oq08_x() {}\nfn t07_y()"), [Question(8), Scenario(7)]);
    assert_eq!(citations("a\nfn r22_r10_x()")[1], (Rule(10), 2));
    // Look-alikes: words that merely contain such letters and digits, a register name, an
    // unpadded identifier segment, generic parameters beyond the matrix, and longer numbers.
    assert_eq!(ids("VAR2 R2D2 x86_64 mov r10, r11 r9_x T13 t13_x fr23_x R100 ROQ-8"), []);
    // Ids outside the contract are still read, so that the resolution test reports them. (Built
    // at run time so that this file does not cite them itself.)
    assert_eq!(ids(&format!("R{} OQ-{}", 36, 21)), [Rule(36), Question(21)]);
}
