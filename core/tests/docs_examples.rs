//! Every example a reader could copy from the documentation is valid: each chat ID shown in the
//! Markdown files and in the core's doc comments parses, and each JSON event shown there passes
//! the collector's validation. (The curl calls are run against the real collector by
//! `collector/tests/integration/docs_examples.rs`.)

use std::path::{Path, PathBuf};

use chattag_core::alphabet::value;
use chattag_core::{ChatId, Event};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("core/ has a parent")
        .to_path_buf()
}

/// The documents a user reads: the READMEs, ARCHITECTURE.md, everything in docs/, and the core's
/// Rust sources (their doc comments are its API documentation).
fn documents() -> Vec<(PathBuf, String)> {
    let root = repo_root();
    let mut paths: Vec<PathBuf> = [
        "README.md",
        "ARCHITECTURE.md",
        "npm/README.md",
        "collector/README.md",
    ]
    .iter()
    .map(|p| root.join(p))
    .collect();
    for dir in ["docs", "core/src"] {
        let mut found: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|e| e.expect("dir entry").path())
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("md" | "rs")))
            .collect();
        found.sort();
        paths.extend(found);
    }
    paths
        .into_iter()
        .map(|p| {
            let text =
                std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let text = if p.extension().is_some_and(|e| e == "rs") {
                doc_comments(&text)
            } else {
                text
            };
            (p, text)
        })
        .collect()
}

/// The doc comments of a Rust file (`//!` and `///` lines), without the markers.
fn doc_comments(src: &str) -> String {
    src.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            l.strip_prefix("//!").or_else(|| l.strip_prefix("///"))
        })
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Words shaped like a chat ID: 1–4 letters A–Z, then 8 characters of the ID alphabet, at least
/// one of them a digit (so that ordinary upper-case words such as `ARCHITECTURE` are not taken
/// for IDs). Words are runs of ASCII letters and digits, so `promo_CT…` and `start=CT…` count.
fn id_shaped(text: &str) -> Vec<&str> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| {
            let b = w.as_bytes();
            (9..=12).contains(&b.len())
                && b[..b.len() - 8].iter().all(u8::is_ascii_uppercase)
                && b[b.len() - 8..].iter().all(|&c| value(c).is_some())
                && b[b.len() - 8..].iter().any(u8::is_ascii_digit)
        })
        .collect()
}

#[test]
fn every_chat_id_in_the_docs_is_valid() {
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (path, text) in documents() {
        for word in id_shaped(&text) {
            checked += 1;
            if let Err(e) = ChatId::parse(word) {
                wrong.push(format!("{}: {word}: {e}", path.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "invalid chat IDs in the docs:\n{}",
        wrong.join("\n")
    );
    // The README, ARCHITECTURE.md and the npm README each show one.
    assert!(
        checked >= 4,
        "only {checked} chat IDs found: is the scan broken?"
    );
}

#[test]
fn the_scan_finds_what_it_should() {
    assert_eq!(
        id_shaped("x `CT8F2A9KQZ` promo_CT8F2A9KQZ ARCHITECTURE SAVEPOINT CT8F2A9KQZZ ABCDEFGHJK"),
        vec!["CT8F2A9KQZ", "CT8F2A9KQZ"]
    );
    assert_eq!(doc_comments("//! a\n  /// b\n// c\nfn x() {}"), "a\nb");
}

/// The fenced ```json blocks of a document.
fn json_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in text.lines() {
        let fence = line.trim_start();
        match &mut current {
            None if fence.starts_with("```json") => current = Some(Vec::new()),
            Some(lines) if fence.starts_with("```") => {
                blocks.push(lines.join("\n"));
                current = None;
            }
            Some(lines) => lines.push(line),
            None => {}
        }
    }
    blocks
}

#[test]
fn every_json_event_in_the_docs_is_valid() {
    let mut events = 0;
    for (path, text) in documents() {
        for block in json_blocks(&text) {
            let value: serde_json::Value = serde_json::from_str(&block)
                .unwrap_or_else(|e| panic!("{}: not JSON ({e}):\n{block}", path.display()));
            let items = match value {
                serde_json::Value::Array(items) => items,
                one => vec![one],
            };
            for item in items.into_iter().filter(|v| v.get("event_id").is_some()) {
                let event: Event = serde_json::from_value(item.clone())
                    .unwrap_or_else(|e| panic!("{}: not an event ({e}): {item}", path.display()));
                assert_eq!(event.validate(), Ok(()), "{}: {item}", path.display());
                events += 1;
            }
        }
    }
    // core/src/event.rs documents the wire format with one.
    assert!(
        events >= 1,
        "no JSON event found in the docs: is the scan broken?"
    );
}
