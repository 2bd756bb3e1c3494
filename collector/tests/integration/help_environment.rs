//! `--help` names every environment variable the collector reads: a site owner setting up
//! webhooks or uploads learns each `CHATTAG_*` name without reading the source.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn names_in(dir: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            names_in(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("read file");
            let mut rest = text.as_str();
            while let Some(at) = rest.find("CHATTAG_") {
                let tail = &rest[at..];
                let end = tail
                    .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                    .unwrap_or(tail.len());
                let name = &tail[..end];
                // "CHATTAG_*" in prose, and the prefix itself, are not variables.
                if name.len() > "CHATTAG_".len() {
                    out.insert(name.to_string());
                }
                rest = &tail[end..];
            }
        }
    }
}

#[test]
fn help_names_every_environment_variable() {
    let mut names = BTreeSet::new();
    names_in(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut names,
    );
    assert!(names.contains("CHATTAG_TELEGRAM_SECRET"), "{names:?}");
    let out = Command::new(env!("CARGO_BIN_EXE_chattag-collector"))
        .arg("--help")
        .output()
        .expect("run --help");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| {
            // A whole word: CHATTAG_LOG must not pass because CHATTAG_LOG_FORMAT is there.
            !help.match_indices(n.as_str()).any(|(i, _)| {
                help[i + n.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !(c.is_ascii_uppercase() || c == '_'))
            })
        })
        .collect();
    assert!(
        missing.is_empty(),
        "--help does not name {missing:?}:\n{help}"
    );
}
