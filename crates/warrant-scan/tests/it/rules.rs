//! The built-in rules: every example of every rule against the real scanner,
//! and the invariants the engine relies on (keywords in every match, bounded
//! matches), checked on the rule files themselves.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use regex::bytes::Regex;
use warrant_scan::fixtures::Generator;
use warrant_scan::{Finding, Scanner};

/// Seeds per template: each expands to different random text.
const SEEDS: u64 = 20;

fn scanner() -> Scanner {
    Scanner::builder()
        .build()
        .expect("the built-in rules compile")
}

fn ids(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.rule.as_str()).collect()
}

#[test]
fn every_positive_is_found_by_its_rule_inside_the_example() {
    let scanner = scanner();
    let mut failures = Vec::new();
    for rule in scanner.rules() {
        for template in &rule.positive {
            for seed in 0..SEEDS {
                let (text, marks) = Generator::new(seed).expand_marked(template);
                let findings = scanner.scan_bytes(text.as_bytes());
                let Some(found) = findings.iter().find(|f| f.rule == rule.id) else {
                    failures.push(format!(
                        "{}: seed {seed}: not found in {text:?}; found {:?}",
                        rule.id,
                        ids(&findings)
                    ));
                    continue;
                };
                let start = usize::try_from(found.offset).unwrap();
                let span = start..start + found.length;
                // The secret lies in the example and covers generated text,
                // not only the literal context around it.
                if span.end > text.len()
                    || !marks
                        .iter()
                        .any(|m| m.start < span.end && span.start < m.end)
                {
                    failures.push(format!(
                        "{}: seed {seed}: span {span:?} outside the generated text of {text:?}",
                        rule.id
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn no_negative_is_found_by_its_rule() {
    let scanner = scanner();
    let mut failures = Vec::new();
    for rule in scanner.rules() {
        for template in &rule.negative {
            for seed in 0..SEEDS {
                let text = Generator::new(seed).expand(template);
                let findings = scanner.scan_bytes(text.as_bytes());
                if findings.iter().any(|f| f.rule == rule.id) {
                    failures.push(format!("{}: seed {seed}: found in {text:?}", rule.id));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn rules_are_many_and_all_have_examples() {
    let scanner = scanner();
    let rules: Vec<_> = scanner.rules().collect();
    let formats = rules.iter().filter(|r| !r.generic).count();
    assert!(formats >= 60, "only {formats} format rules");
    assert!(rules.len() >= 75, "only {} rules", rules.len());
    for rule in &rules {
        assert!(
            !rule.positive.is_empty(),
            "{} has no positive example",
            rule.id
        );
        assert!(
            !rule.negative.is_empty(),
            "{} has no negative example",
            rule.id
        );
    }
}

#[test]
fn positives_are_found_across_chunk_edges() {
    // A small chunk size puts chunk edges a few overlaps apart; each example
    // is planted so that it straddles one edge or another.
    let scanner = Scanner::builder().chunk_size(1).build().unwrap();
    let filler = "lorem ipsum dolor sit amet\n".repeat(8000);
    let mut failures = Vec::new();
    let mut buf = Vec::new();
    for (i, rule) in scanner.rules().enumerate() {
        let example = Generator::new(99).expand(&rule.positive[0]);
        let at = 49_000 + (i * 977) % 100_000;
        let at = filler[..at].rfind('\n').map_or(0, |n| n + 1);
        let content = format!("{}{example}\n{}", &filler[..at], &filler[at..]);
        let findings = scanner
            .scan_reader(&mut content.as_bytes(), &mut buf)
            .unwrap();
        if !findings.iter().any(|f| f.rule == rule.id) {
            failures.push(format!("{}: not found at offset {at}", rule.id));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn tokens_are_generated_for_every_rule() {
    let scanner = scanner();
    let mut generator = Generator::new(11);
    for rule in scanner.rules() {
        let token = generator.token(&rule.id);
        assert!(token.is_some_and(|t| !t.is_empty()), "{}", rule.id);
        assert!(generator.example(&rule.id).is_some(), "{}", rule.id);
    }
}

#[test]
fn the_crate_itself_holds_no_secrets() {
    // Rule files, sources and tests hold templates and regexes, nothing that
    // any rule reports.
    let scanner = scanner();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for dir in ["rules", "src", "tests/it"] {
        for path in files(&root.join(dir)) {
            let data = std::fs::read(&path).unwrap();
            for f in scanner.scan_bytes(&data) {
                found.push(format!(
                    "{}:{}: {} {}",
                    path.display(),
                    f.line,
                    f.rule,
                    f.excerpt
                ));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

/// A rule as written in its file, for the checks the engine cannot make.
struct RawRule {
    id: String,
    keywords: Vec<String>,
    regex: String,
    max_len: usize,
    examples: Vec<String>,
}

fn raw_rules() -> Vec<RawRule> {
    let mut rules = Vec::new();
    for path in files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")) {
        let text = std::fs::read_to_string(&path).unwrap();
        let file: toml::Table = toml::from_str(&text).unwrap();
        let Some(list) = file.get("rule").and_then(|r| r.as_array()) else {
            continue;
        };
        for rule in list {
            let strings = |key: &str| -> Vec<String> {
                rule.get(key)
                    .and_then(|v| v.as_array())
                    .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
                    .unwrap_or_default()
            };
            let mut examples = strings("positive");
            examples.extend(strings("negative"));
            rules.push(RawRule {
                id: rule["id"].as_str().unwrap().to_owned(),
                keywords: strings("keywords"),
                regex: rule["regex"].as_str().unwrap().to_owned(),
                max_len: usize::try_from(rule["max_len"].as_integer().unwrap()).unwrap(),
                examples,
            });
        }
    }
    rules
}

#[test]
fn every_match_holds_a_keyword_and_fits_max_len() {
    // The engine only runs a rule's regex around its keywords, within
    // max_len: a match without a keyword, or longer, would be missed or cut.
    let mut failures = Vec::new();
    let rules = raw_rules();
    assert_eq!(rules.len(), scanner().rules().count());
    for rule in &rules {
        let regex = Regex::new(&rule.regex).unwrap();
        let secret = regex.capture_names().position(|n| n == Some("secret"));
        for template in &rule.examples {
            for seed in 0..4 {
                let text = Generator::new(seed).expand(template);
                for caps in regex.captures_iter(text.as_bytes()) {
                    let whole = caps.get(0).unwrap();
                    let lower = whole.as_bytes().to_ascii_lowercase();
                    let has_keyword = rule.keywords.iter().any(|k| {
                        let k = k.to_ascii_lowercase();
                        lower.windows(k.len()).any(|w| w == k.as_bytes())
                    });
                    if !has_keyword {
                        failures.push(format!("{}: match without a keyword in {text:?}", rule.id));
                    }
                    if whole.len() > rule.max_len {
                        failures.push(format!(
                            "{}: match of {} bytes > max_len",
                            rule.id,
                            whole.len()
                        ));
                    }
                    if let Some(s) = secret.and_then(|g| caps.get(g))
                        && s.start() - whole.start() > rule.max_len
                    {
                        failures.push(format!("{}: secret starts too far from the match", rule.id));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn regexes_are_bounded() {
    // No `*`, `+` or `{n,}`: every repetition has an upper bound, so that
    // max_len can be checked against the pattern.
    for rule in raw_rules() {
        assert_eq!(
            unbounded_repetition(&rule.regex),
            None,
            "{}: {}",
            rule.id,
            rule.regex
        );
    }
}

#[test]
fn ids_are_unique() {
    let mut seen = HashSet::new();
    for rule in raw_rules() {
        assert!(seen.insert(rule.id.clone()), "{} twice", rule.id);
    }
}

/// The byte offset of the first unbounded repetition outside character
/// classes, if any.
fn unbounded_repetition(pattern: &str) -> Option<usize> {
    let b = pattern.as_bytes();
    let mut i = 0;
    let mut in_class = false;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' if !in_class => {
                in_class = true;
                // A `]` first in a class (after an optional `^`) is literal.
                if b.get(i + 1) == Some(&b'^') {
                    i += 1;
                }
                if b.get(i + 1) == Some(&b']') {
                    i += 1;
                }
            }
            b']' if in_class => in_class = false,
            b'*' | b'+' if !in_class => return Some(i),
            b'{' if !in_class => {
                let close = pattern[i..].find('}').map(|c| i + c)?;
                if pattern[i + 1..close].ends_with(',') {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[test]
fn the_boundedness_check_sees_repetitions() {
    assert_eq!(unbounded_repetition(r"a{1,3}[*+]\+b"), None);
    assert_eq!(unbounded_repetition(r"a+"), Some(1));
    assert_eq!(unbounded_repetition(r"[]*]x*"), Some(5));
    assert_eq!(unbounded_repetition(r"x{2,}"), Some(1));
}

/// Scans the tree named by `WARRANT_SCAN_CORPUS` (for instance
/// `~/.cargo/registry/src`) and prints how many findings each rule makes,
/// with their places: a survey of false positives on real code.
///
/// `WARRANT_SCAN_CORPUS=~/.cargo/registry/src cargo test -p warrant-scan
/// --release --test it -- --ignored --nocapture corpus_survey`
#[test]
#[ignore = "needs a corpus: set WARRANT_SCAN_CORPUS"]
fn corpus_survey() {
    let Some(root) = std::env::var_os("WARRANT_SCAN_CORPUS") else {
        return;
    };
    let scanner = scanner();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    let mut buf = Vec::new();
    let (mut files, mut bytes) = (0u64, 0u64);
    let start = std::time::Instant::now();
    for entry in ignore::WalkBuilder::new(&root)
        .standard_filters(false)
        .build()
    {
        let Ok(entry) = entry else { continue };
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Ok(mut file) = std::fs::File::open(entry.path()) else {
            continue;
        };
        files += 1;
        bytes += entry.metadata().map_or(0, |m| m.len());
        let Ok(findings) = scanner.scan_reader(&mut file, &mut buf) else {
            continue;
        };
        for f in findings {
            *counts.entry(f.rule.clone()).or_default() += 1;
            eprintln!(
                "{}:{}: {} {}",
                entry.path().display(),
                f.line,
                f.rule,
                f.excerpt
            );
        }
    }
    eprintln!(
        "{files} files, {} MiB in {:?}",
        bytes >> 20,
        start.elapsed()
    );
    for (rule, n) in counts {
        eprintln!("{n:6} {rule}");
    }
}
