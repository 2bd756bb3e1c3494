//! The curl calls shown in the documentation work as shown: each ```sh block's `curl` command is
//! run by the real curl against the real collector (its documented address replaced by the test
//! server's), must succeed, and must print the answer the docs show after `# →`.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Server, TOKEN};

/// Where the docs say the collector listens.
const DOC_ADDR: &str = "http://127.0.0.1:8787";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("collector/ has a parent")
        .to_path_buf()
}

fn markdown_files() -> Vec<PathBuf> {
    let root = repo_root();
    let mut files: Vec<PathBuf> = ["README.md", "ARCHITECTURE.md", "collector/README.md"]
        .iter()
        .map(|p| root.join(p))
        .collect();
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// One documented call: the shell command (continuation lines joined) and the output the docs
/// show for it, if any.
#[derive(Debug)]
struct Call {
    command: String,
    expected: Option<String>,
}

/// The `curl` commands of the ```sh blocks of `text`.
fn curl_calls(text: &str) -> Vec<Call> {
    let mut calls: Vec<Call> = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in text.lines() {
        let t = line.trim();
        if !in_sh {
            in_sh = t == "```sh" || t == "```bash";
            continue;
        }
        if t.starts_with("```") {
            in_sh = false;
            continue;
        }
        if let Some(out) = t.strip_prefix("# →") {
            if let Some(last) = calls.last_mut() {
                last.expected = Some(out.trim().to_owned());
            }
            continue;
        }
        if let Some(head) = t.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(t);
        let command = std::mem::take(&mut pending);
        if command.starts_with("curl ") && command.contains(DOC_ADDR) {
            calls.push(Call {
                command,
                expected: None,
            });
        }
    }
    calls
}

#[test]
fn documented_curl_calls_work() {
    let server = Server::start(&[]);
    let mut ran = 0;
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).expect("read doc");
        for call in curl_calls(&text) {
            let command = call
                .command
                .replace(DOC_ADDR, &format!("http://{}", server.addr));
            let out = Command::new("bash")
                .arg("-c")
                .arg(&command)
                .env("CHATTAG_READ_TOKEN", TOKEN)
                .output()
                .expect("run bash + curl");
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{}: {}\nexit {:?}\n{stdout}\n{}",
                file.display(),
                call.command,
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            );
            let got: serde_json::Value = serde_json::from_str(&stdout)
                .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {stdout}", call.command));
            if let Some(expected) = &call.expected {
                let expected: serde_json::Value =
                    serde_json::from_str(expected).expect("the documented answer is JSON");
                assert_eq!(got, expected, "{}", call.command);
            }
            ran += 1;
        }
    }
    // collector/README.md shows an ingest and a read.
    assert!(ran >= 2, "only {ran} documented curl calls found");
}

#[test]
fn the_doc_parser_joins_continuations() {
    let text = "x\n```sh\ncurl -s http://127.0.0.1:8787/a \\\n  -H 'A: b'\n# → {\"ok\":1}\nls\n```\ncurl http://127.0.0.1:8787/not-in-a-block\n";
    let calls = curl_calls(text);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        calls[0].command,
        "curl -s http://127.0.0.1:8787/a  -H 'A: b'"
    );
    assert_eq!(calls[0].expected.as_deref(), Some("{\"ok\":1}"));
}

/// The doc comments (`//!`, `///`) of every Rust file under `dir`, by file.
fn rust_docs(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read source dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            out.extend(rust_docs(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            let src = std::fs::read_to_string(&p).expect("read source");
            let docs: Vec<&str> = src
                .lines()
                .filter_map(|l| {
                    let l = l.trim_start();
                    l.strip_prefix("//!").or_else(|| l.strip_prefix("///"))
                })
                .map(|l| l.strip_prefix(' ').unwrap_or(l))
                .collect();
            out.push((p, docs.join("\n")));
        }
    }
    out
}

/// Words shaped like a chat ID (1–4 letters, 8 ID-alphabet characters, at least one digit), as
/// in core/tests/docs_examples.rs.
fn id_shaped(text: &str) -> Vec<&str> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| {
            let b = w.as_bytes();
            (9..=12).contains(&b.len())
                && b[..b.len() - 8].iter().all(u8::is_ascii_uppercase)
                && b[b.len() - 8..]
                    .iter()
                    .all(|&c| chattag_core::alphabet::value(c).is_some())
                && b[b.len() - 8..].iter().any(u8::is_ascii_digit)
        })
        .collect()
}

/// The collector's API documentation (its doc comments) shows valid chat IDs, and the intake's
/// JSON example is accepted by `POST /v1/chats` as shown.
#[test]
fn collector_doc_comments_are_valid() {
    let docs = rust_docs(&repo_root().join("collector/src"));
    let mut wrong = Vec::new();
    for (path, text) in &docs {
        for word in id_shaped(text) {
            if let Err(e) = chattag_core::ChatId::parse(word) {
                wrong.push(format!("{}: {word}: {e}", path.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "invalid chat IDs:\n{}", wrong.join("\n"));

    let server = Server::start(&[]);
    let mut posted = 0;
    for (path, text) in &docs {
        let mut block: Option<Vec<&str>> = None;
        for line in text.lines() {
            match &mut block {
                None if line.trim() == "```json" => block = Some(Vec::new()),
                Some(lines) if line.trim() == "```" => {
                    let body = lines.join("\n");
                    block = None;
                    let value: serde_json::Value = serde_json::from_str(&body)
                        .unwrap_or_else(|e| panic!("{}: not JSON ({e})", path.display()));
                    if value.get("platform").is_none() {
                        continue;
                    }
                    let auth = format!("Bearer {TOKEN}");
                    let r = server.request(
                        "POST",
                        "/v1/chats",
                        &[
                            ("Authorization", &auth),
                            ("Content-Type", "application/json"),
                        ],
                        body.as_bytes(),
                    );
                    assert_eq!(
                        r.status,
                        200,
                        "{}: {}",
                        path.display(),
                        String::from_utf8_lossy(&r.body)
                    );
                    assert_eq!(r.json()["status"], "opened");
                    posted += 1;
                }
                Some(lines) => lines.push(line),
                None => {}
            }
        }
    }
    assert!(posted >= 1, "the intake's JSON example was not found");
}
