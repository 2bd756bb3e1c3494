//! The HTTP edge against hostile clients: invented methods and unknown paths cost little and
//! add no metrics series; slow and idle connections are closed while real traffic is served;
//! the connection cap holds; the login form is throttled; /metrics can be closed off.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

fn metrics_len(server: &Server) -> usize {
    let res = server.request("GET", "/metrics", &[], b"");
    assert_eq!(res.status, 200);
    res.body.len()
}

#[test]
fn invented_methods_and_unknown_paths_do_not_grow_metrics() {
    let server = Server::start(&[]);
    let probe = |i: usize| {
        let method = format!("X{i}{}", "M".repeat(2_000));
        let res = server.request(&method, "/v1/events", &[], b"");
        assert_eq!(res.status, 405, "{method:.10}…");
        assert_eq!(res.error().0, "method_not_allowed");
        let res = server.request("GET", &format!("/probe/{i}/{}", "p".repeat(500)), &[], b"");
        assert_eq!(res.status, 404);
    };
    // The first of each adds its (fixed) series; the next 300 add none.
    probe(0);
    metrics_len(&server); // and /metrics its own
    let before = metrics_len(&server);
    (1..=300).for_each(probe);
    let text = String::from_utf8(server.request("GET", "/metrics", &[], b"").body).unwrap();
    assert!(!text.contains("X1MM"), "a request's method became a label");
    assert!(!text.contains("/probe/"), "a request's path became a label");
    assert!(text.contains(r#"method="other""#), "{text}");
    assert!(
        text.len() < before + 200,
        "/metrics grew from {before} to {} bytes",
        text.len()
    );
}

#[test]
fn unknown_paths_are_rate_limited_too() {
    let server = Server::start(&["--rate-limit", "1", "--rate-burst", "5"]);
    let statuses: Vec<u16> = (0..20)
        .map(|i| {
            server
                .request("GET", &format!("/wp-admin/{i}"), &[], b"")
                .status
        })
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        statuses.iter().filter(|&&s| s == 404).count() <= 6,
        "{statuses:?}"
    );
}

/// Whether the server closed `s` (EOF or reset) within `within`; any answer bytes are ignored.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let end = Instant::now() + within;
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

const LIMITS: &[&str] = &[
    "--header-timeout",
    "2s",
    "--idle-timeout",
    "3s",
    "--request-timeout",
    "3s",
];

#[test]
fn slowloris_and_idle_connections_are_closed_while_others_are_served() {
    let server = Server::start(LIMITS);
    // Slow headers: a byte every 300 ms, never the blank line.
    let mut slow: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut s = TcpStream::connect(&server.addr).unwrap();
            s.write_all(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s
        })
        .collect();
    // Idle: connected, nothing sent.
    let mut idle: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    // A slow body: full headers, then a byte now and then.
    let mut body = TcpStream::connect(&server.addr).unwrap();
    body.write_all(
        format!(
            "POST /v1/events HTTP/1.1\r\nHost: x\r\nOrigin: {ORIGIN}\r\nContent-Type: text/plain\r\nContent-Length: 500\r\n\r\n["
        )
        .as_bytes(),
    )
    .unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(3_600) {
        for s in &mut slow {
            let _ = s.write_all(b"X");
        }
        let _ = body.write_all(b" ");
        // Real traffic is served meanwhile.
        assert_eq!(server.request("GET", "/healthz", &[], b"").status, 200);
        assert_eq!(server.post_events(&issue(&new_chat_id())).status, 200);
        std::thread::sleep(Duration::from_millis(300));
    }
    for (i, s) in slow.iter_mut().enumerate() {
        assert!(
            closed_within(s, Duration::from_secs(3)),
            "slow-header connection {i} still open"
        );
    }
    for (i, s) in idle.iter_mut().enumerate() {
        assert!(
            closed_within(s, Duration::from_secs(3)),
            "idle connection {i} still open"
        );
    }
    let mut answer = Vec::new();
    body.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = body.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "slow body not ended by the request timeout: {answer:?}"
    );
    let text = String::from_utf8(server.request("GET", "/metrics", &[], b"").body).unwrap();
    assert!(
        text.lines().any(
            |l| l.starts_with("chattag_http_connections_timed_out_total ") && !l.ends_with(" 0")
        ),
        "{text}"
    );
}

#[test]
fn an_idle_keep_alive_connection_is_closed() {
    let server = Server::start(LIMITS);
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 1024];
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let n = s.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let t = Instant::now();
    assert!(closed_within(&mut s, Duration::from_secs(6)));
    assert!(t.elapsed() >= Duration::from_secs(1), "closed too early");
}

#[test]
fn connections_over_the_cap_are_closed_at_once_and_the_server_recovers() {
    let mut args = LIMITS.to_vec();
    args.extend(["--max-connections", "20"]);
    let server = Server::start(&args);
    let mut held: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut over = TcpStream::connect(&server.addr).unwrap();
    assert!(
        closed_within(&mut over, Duration::from_millis(800)),
        "a connection over the cap was kept"
    );
    // The held ones time out, and the server answers again.
    for s in &mut held {
        assert!(closed_within(s, Duration::from_secs(5)));
    }
    assert_eq!(server.request("GET", "/healthz", &[], b"").status, 200);
}

#[test]
fn login_guesses_are_throttled_per_address() {
    let server = Server::start(&[]);
    let statuses: Vec<u16> = (0..30)
        .map(|i| {
            server
                .request(
                    "POST",
                    "/reports/login",
                    &[("Content-Type", "application/x-www-form-urlencoded")],
                    format!("token=guess-{i}").as_bytes(),
                )
                .status
        })
        .collect();
    let refused = statuses.iter().filter(|&&s| s == 429).count();
    assert!(
        refused >= 15,
        "{refused} of 30 guesses throttled: {statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|&&s| s == 401).count(), 30 - refused);
}

#[test]
fn metrics_can_require_a_token() {
    let server = Server::start_raw(
        &["--allowed-origin", ORIGIN],
        &[
            ("CHATTAG_METRICS_TOKEN", "metrics-token-0123456789"),
            ("CHATTAG_RATE_LIMIT", "0"),
        ],
    );
    assert_eq!(server.request("GET", "/metrics", &[], b"").status, 401);
    let ok = server.request(
        "GET",
        "/metrics",
        &[("Authorization", "Bearer metrics-token-0123456789")],
        b"",
    );
    assert_eq!(ok.status, 200);
}

#[test]
fn metrics_can_move_to_their_own_address() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics_addr = format!("127.0.0.1:{port}");
    let server = Server::start(&["--metrics-listen", &metrics_addr]);
    assert_eq!(server.request("GET", "/metrics", &[], b"").status, 404);
    let res = request(&metrics_addr, "GET", "/metrics", &[], b"");
    assert_eq!(res.status, 200);
    assert!(String::from_utf8_lossy(&res.body).contains("chattag_http_requests"));
    assert_eq!(
        request(&metrics_addr, "GET", "/healthz", &[], b"").status,
        404
    );
}

#[test]
fn the_session_cookie_is_secure_behind_a_proxy_when_the_public_url_is_https() {
    // nginx's plain `proxy_pass http://127.0.0.1:8787` passes Host: 127.0.0.1:8787.
    let login = |server: &Server| {
        let res = server.request(
            "POST",
            "/reports/login",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Host", "127.0.0.1:8787"),
            ],
            format!("token={TOKEN}").as_bytes(),
        );
        assert_eq!(res.status, 303);
        res.header("set-cookie").unwrap_or_default().to_owned()
    };
    let server = Server::start(&["--public-url", "https://collect.shop.example"]);
    assert!(login(&server).contains("; Secure"));
    let demo = Server::start(&[]);
    assert!(!login(&demo).contains("; Secure"), "plain http on loopback");
}

#[test]
fn logs_to_a_file_or_pipe_carry_no_colour_codes() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_chattag-collector"))
        .args(["--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("chattag.db"))
        .env_remove("CHATTAG_ALLOWED_ORIGINS")
        .env_remove("CHATTAG_READ_TOKEN")
        .env("CHATTAG_LOG", "info")
        // No free-space warning ahead of the one this test reads.
        .env("CHATTAG_MIN_FREE_MB", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // With no allowed origin the collector warns at start.
    let mut first = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.contains("WARN"), "{first:?}");
    assert!(
        !first.contains('\u{1b}'),
        "ANSI codes in a piped log: {first:?}"
    );
}

#[test]
fn a_low_file_descriptor_limit_lowers_the_connection_cap_and_says_so() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_chattag-collector");
    // `ulimit -n` sets the soft and the hard limit: nothing to raise to.
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 256 && exec '{bin}' --listen 127.0.0.1:0 --db '{}' --allowed-origin {ORIGIN}",
            dir.path().join("chattag.db").display()
        ))
        .env_remove("CHATTAG_READ_TOKEN")
        .env("CHATTAG_LOG", "warn")
        .env("CHATTAG_MIN_FREE_MB", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Start-up warnings come before the "listening" line; the fd-limit one is among the first.
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let found = line.contains("file-descriptor limit is low");
        lines.push(line);
        if found || lines.len() == 5 {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        lines.iter().any(
            |l| l.contains("file-descriptor limit is low") && l.contains("max_connections=192")
        ),
        "{lines:?}"
    );
}
