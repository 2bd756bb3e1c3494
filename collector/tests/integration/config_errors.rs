//! A bad config file stops start-up with a message naming the problem, and nothing listens:
//! the chat side's `[chats]` table is held to the same rule as `[[sites]]`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Runs the server with `config` as its config file; returns (exit success, stdout, stderr).
fn start_with(config: &str, env: &[(&str, &str)]) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("collector.toml");
    std::fs::write(&path, config).expect("write config");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chattag-collector"));
    cmd.arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--db")
        .arg(dir.path().join("c.db"))
        .arg("--config")
        .arg(&path)
        .env("CHATTAG_LOG", "off")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in [
        "CHATTAG_READ_TOKEN",
        "CHATTAG_CONFIG",
        "CHATTAG_TELEGRAM_SECRET",
        "CHATTAG_WHATSAPP_APP_SECRET",
        "CHATTAG_WHATSAPP_VERIFY_TOKEN",
        "CHATTAG_VIBER_AUTH_TOKEN",
        "CHATTAG_MAX_SECRET",
        "CHATTAG_INTAKE_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn collector");
    // The first stdout line is the listening line of a server that started; a refused start
    // closes stdout without one.
    let mut first = String::new();
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    stdout.read_line(&mut first).expect("read stdout");
    if child.try_wait().expect("wait").is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.success(),
        first,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A config file, the environment, and what the error must name.
type Case = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

#[test]
fn bad_chats_settings_stop_start_up() {
    let cases: &[Case] = &[
        // A misspelt messenger table would leave its webhook off without a word.
        (
            "[chats.telegramm]\nbot_username = \"shop_bot\"\n",
            &[],
            "telegramm",
        ),
        (
            "[chats.telegram]\nbot_usernme = \"shop_bot\"\n",
            &[],
            "[chats.telegram]",
        ),
        (
            "[chats]\nprobable_window_minutes = 0\n",
            &[],
            "probable_window_minutes",
        ),
        ("[chats]\nprefixes = [\"c-t\"]\n", &[], "prefix"),
        (
            "[chats.viber]\nauth_token_file = \"/nonexistent/viber-token\"\n",
            &[],
            "/nonexistent/viber-token",
        ),
        ("", &[("CHATTAG_MAX_SECRET", "short")], "CHATTAG_MAX_SECRET"),
    ];
    for (config, env, named) in cases {
        let (ok, stdout, stderr) = start_with(config, env);
        assert!(!ok, "started with {config:?} {env:?}: {stderr}");
        assert!(
            !stdout.contains("listening"),
            "listened with {config:?}: {stdout}"
        );
        assert!(
            stderr.contains("chattag-collector:") && stderr.contains(named),
            "the error for {config:?} {env:?} does not name {named:?}: {stderr}"
        );
    }
}

#[test]
fn a_good_chats_table_starts() {
    let (_, stdout, stderr) = start_with(
        "[chats]\nprefixes = [\"CT\"]\n[chats.telegram]\nbot_username = \"shop_bot\"\n",
        &[("CHATTAG_TELEGRAM_SECRET", "tg-secret-123")],
    );
    assert!(
        stdout.contains("chattag-collector listening on http://"),
        "did not start: {stderr}"
    );
}
