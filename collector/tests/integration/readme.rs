//! collector/README.md documents every error code and every route the collector serves, and
//! nothing it does not serve.

use std::collections::BTreeSet;
use std::path::Path;

use chattag_collector::chats::config::ChatsConfig;
use chattag_collector::error::ErrorCode;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("read collector/README.md")
}

/// Paths given to `.route("…"` anywhere in the collector's sources.
fn routed_paths(dir: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            routed_paths(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("read source");
            for piece in text.split(".route(").skip(1) {
                let piece = piece.trim_start();
                if let Some(rest) = piece.strip_prefix('"') {
                    if let Some(end) = rest.find('"') {
                        out.insert(rest[..end].to_owned());
                    }
                }
            }
        }
    }
}

/// The paths of the README's route table (`` `METHOD /path[?query]` `` in its first column).
fn documented_paths(readme: &str) -> BTreeSet<String> {
    let start = readme
        .find("| route | auth | answers |")
        .expect("the route table");
    readme[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cell = l.split('|').nth(1).unwrap_or("").trim().trim_matches('`');
            let path = cell.split_whitespace().nth(1).unwrap_or("");
            let path = path.split('[').next().unwrap_or(path);
            // `/reports/{table}.csv` is the route `/reports/{file}`.
            path.replace("{table}.csv", "{file}")
        })
        .collect()
}

#[test]
fn every_error_code_is_documented() {
    let readme = readme();
    let missing: Vec<&str> = ErrorCode::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !readme.contains(&format!("`{c}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "collector/README.md does not list: {missing:?}"
    );
}

#[test]
fn the_route_table_is_the_routes() {
    let mut served = BTreeSet::new();
    routed_paths(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut served,
    );
    // Webhook routes are made from the messenger list.
    let chats = ChatsConfig::resolve(None, &|_| None).expect("default chat settings");
    for (name, _) in chats.messengers.enabled() {
        served.insert(format!("/v1/webhooks/{name}"));
    }
    assert!(served.contains("/v1/events") && served.contains("/v1/webhooks/telegram"));
    let documented = documented_paths(&readme());
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let not_served: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && not_served.is_empty(),
        "routes missing from collector/README.md: {undocumented:?}; documented but not served: {not_served:?}"
    );
}
