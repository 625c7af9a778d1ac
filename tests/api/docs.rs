//! The documentation cannot drift from the code: every relative link and anchor in
//! `README.md`, `docs/` and `examples/` resolves, and every `TOKENLEDGER_*` variable the
//! configuration reads has a row in `docs/configuration.md`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tokenledger::config::Settings;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every Markdown file a reader can land on.
fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    for dir in ["docs", "examples"] {
        collect(&root().join(dir), &mut files);
    }
    files
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
}

/// The lines outside fenced code blocks, where links and headings mean something.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|line| {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens, and
/// `-1`, `-2`… for repeats.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for line in prose(text) {
        let Some(title) = line.strip_prefix('#') else {
            continue;
        };
        let title = title.trim_start_matches('#').trim();
        let slug: String = title
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let mut candidate = slug.clone();
        let mut n = 1;
        while seen.contains(&candidate) {
            candidate = format!("{slug}-{n}");
            n += 1;
        }
        seen.insert(candidate);
    }
    seen
}

/// `(target)` of every inline link `[text](target)` outside code.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in prose(text) {
        // Inline code spans may hold `](` that is no link.
        let line: String = line.split('`').step_by(2).collect::<Vec<_>>().join("");
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            if let Some(end) = rest.find(')') {
                found.push(rest[..end].trim().to_owned());
                rest = &rest[end..];
            }
        }
    }
    found
}

#[test]
fn every_relative_link_and_anchor_in_the_docs_resolves() {
    let files = markdown_files();
    assert!(
        files.len() > 10,
        "README.md and the docs/ pages: found {files:?}"
    );
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a readable Markdown file");
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") || link.starts_with('<') {
                continue;
            }
            checked += 1;
            let (path, anchor) = link.split_once('#').unwrap_or((&link, ""));
            let target = if path.is_empty() {
                file.clone()
            } else {
                file.parent().expect("a file in a folder").join(path)
            };
            if !target.exists() {
                broken.push(format!("{}: {link} (no such file)", file.display()));
                continue;
            }
            if !anchor.is_empty() {
                let target_text = std::fs::read_to_string(&target).unwrap_or_default();
                if !anchors(&target_text).contains(anchor) {
                    broken.push(format!("{}: {link} (no such heading)", file.display()));
                }
            }
        }
    }
    assert!(checked > 10, "only {checked} relative links were found");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// Every variable the configuration reads: one per `Settings` field, plus those named in the
/// source as string literals (`TOKENLEDGER_CONFIG`).
fn variables_the_code_reads() -> BTreeSet<String> {
    let settings = serde_json::to_value(Settings::default()).expect("Settings serialise");
    let mut names: BTreeSet<String> = settings
        .as_object()
        .expect("Settings is a struct")
        .keys()
        .map(|field| format!("TOKENLEDGER_{}", field.to_uppercase()))
        .collect();
    names.insert("TOKENLEDGER_CONFIG".to_owned());
    names
}

#[test]
fn every_variable_the_code_reads_is_documented() {
    let page = std::fs::read_to_string(root().join("docs/configuration.md"))
        .expect("docs/configuration.md");
    let documented: BTreeSet<String> = page
        .lines()
        .filter(|line| line.starts_with('|'))
        .flat_map(|line| {
            line.split('`')
                .filter(|word| word.starts_with("TOKENLEDGER_"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let variables = variables_the_code_reads();
    assert!(variables.len() > 20, "{variables:?}");
    let missing: Vec<_> = variables.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "read by the code but not in docs/configuration.md's tables: {missing:?}"
    );
    let stale: Vec<_> = documented.difference(&variables).collect();
    assert!(
        stale.is_empty(),
        "documented but not read by the code: {stale:?}"
    );
}

#[test]
fn anchors_follow_githubs_rules() {
    let page = "# Behind a gateway\n## nginx `auth_request`\n```\n# not a heading\n```\n## Tests\n## Tests\n";
    let found = anchors(page);
    assert!(found.contains("behind-a-gateway"));
    assert!(found.contains("nginx-auth_request"));
    assert!(found.contains("tests") && found.contains("tests-1"));
    assert!(!found.contains("not-a-heading"));
}
