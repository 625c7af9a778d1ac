//! The house's rules as tests, so a reviewer can repeat them and a change cannot quietly break
//! them: handlers go through the domain (no file of `src/http` reaches the database, the view
//! or the audit queries itself; `docs/architecture.md`: http -> tokens/users -> ledger -> db),
//! and one file does one job (no file of `src/` is over 400 lines before its tests module).

use std::path::{Path, PathBuf};

/// What a handler may not call: the pool, `db`'s functions, the view's and the audit
/// query's functions, and the `users` table functions that take a connection.
const FORBIDDEN: &[&str] = &[
    ".pool()",
    "db::",
    "view::",
    "query::",
    "feed::page",
    "secrets::",
    "users::find",
    "users::search",
    "users::create",
    "users::count",
    "users::set_",
    "users::revoke_all",
];

/// `StoreError` is the domain's error type; naming it is not reaching the database.
const ALLOWED: &[&str] = &["db::StoreError"];

/// The forbidden calls in one file's text (its tests module and comments aside), as
/// `line: text`.
fn violations(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut found = Vec::new();
    for (number, line) in code.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            continue;
        }
        let mut rest = line.to_owned();
        for allowed in ALLOWED {
            rest = rest.replace(allowed, "");
        }
        if FORBIDDEN.iter().any(|forbidden| rest.contains(forbidden)) {
            found.push(format!("{}: {}", number + 1, trimmed));
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).expect("a readable source directory");
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_handler_reaches_the_database_itself() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() > 20, "found only {} files", files.len());
    let mut report = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        for violation in violations(&text) {
            report.push(format!("{}:{violation}", file.display()));
        }
    }
    assert!(
        report.is_empty(),
        "handlers must call the domain (tokens::LedgerReader, tokens::accounts::Accounts, \
         tokens::Authenticator, tokens::acting), not:\n{}",
        report.join("\n")
    );
}

#[test]
fn the_check_sees_a_handler_that_reaches_the_database() {
    let handler = "async fn h(state: web::Data<AppState>) {\n\
                   // state.tokens.ledger().pool() in a comment is fine\n\
                   let pool = state.tokens.ledger().pool().clone();\n\
                   let rows = query::tokens(&mut *pool.get()?, &filter, 10);\n\
                   let err: crate::db::StoreError = todo!();\n\
                   }\n\
                   #[cfg(test)]\n\
                   mod tests { fn t() { db::ping(); } }\n";
    assert_eq!(
        violations(handler),
        vec![
            "3: let pool = state.tokens.ledger().pool().clone();",
            "4: let rows = query::tokens(&mut *pool.get()?, &filter, 10);",
        ]
    );
}

/// Lines before the tests module.
fn code_lines(text: &str) -> usize {
    text.lines()
        .take_while(|line| !line.starts_with("#[cfg(test)]"))
        .count()
}

/// Over the limit today, and why (none: keep it so).
const TOO_LONG_FOR_NOW: &[&str] = &[];

#[test]
fn no_file_does_more_than_one_job() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut report = Vec::new();
    for file in files {
        let name = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        let lines = code_lines(&text);
        if lines > 400 && !TOO_LONG_FOR_NOW.contains(&name.as_str()) {
            report.push(format!("{name}: {lines} lines"));
        }
    }
    assert!(
        report.is_empty(),
        "over 400 lines outside the tests module:\n{}",
        report.join("\n")
    );
}

#[test]
fn the_length_is_counted_up_to_the_tests_module() {
    assert_eq!(code_lines("a\nb\n#[cfg(test)]\nmod tests {}\n"), 2);
    assert_eq!(code_lines("a\nb\nc\n"), 3);
}
