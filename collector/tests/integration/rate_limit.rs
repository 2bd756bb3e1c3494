//! Per-address rate limit: the burst passes, the next request gets 429 with Retry-After (and
//! CORS headers, so the snippet can see it and keep its events).

use crate::common;

use common::*;

#[test]
fn requests_over_the_limit_get_429_and_are_not_stored() {
    let server = Server::start(&["--rate-limit", "1", "--rate-burst", "5"]);
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let res = server.post_events(&issue(&new_chat_id()));
        if res.status == 429 {
            assert_eq!(res.error().0, "rate_limited");
            assert!(res
                .header("retry-after")
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|s| s >= 1));
            assert_eq!(res.header("access-control-allow-origin"), Some(ORIGIN));
        }
        statuses.push(res.status);
    }
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    let limited = statuses.iter().filter(|&&s| s == 429).count();
    // 5 burst tokens, plus at most one refilled at 1/s during the loop.
    assert!((5..=6).contains(&ok), "{statuses:?}");
    assert_eq!(ok + limited, 8, "{statuses:?}");
    assert_eq!(server.db_count("SELECT count(*) FROM events") as usize, ok);
    // Health and metrics are not limited.
    assert_eq!(server.request("GET", "/healthz", &[], b"").status, 200);
}

fn post_from(server: &Server, forwarded_for: &str) -> u16 {
    server
        .request(
            "POST",
            "/v1/events",
            &[
                ("Origin", ORIGIN),
                ("Content-Type", "text/plain;charset=UTF-8"),
                ("X-Forwarded-For", forwarded_for),
            ],
            &serde_json::to_vec(&issue(&new_chat_id())).unwrap(),
        )
        .status
}

#[test]
fn addresses_of_one_ipv6_network_share_a_limit() {
    let server = Server::start(&[
        "--rate-limit",
        "1",
        "--rate-burst",
        "3",
        "--trust-forwarded-for",
    ]);
    let passed = (0..60)
        .filter(|i| post_from(&server, &format!("2001:db8:1:2::{i:x}")) == 200)
        .count();
    assert!(passed <= 4, "{passed} of 60 from one /64 passed");
    // Another network is another client.
    assert_eq!(post_from(&server, "2001:db8:9:9::1"), 200);
}

#[test]
fn a_forged_hop_is_not_used_when_the_proxy_hop_is_unreadable() {
    let server = Server::start(&[
        "--rate-limit",
        "1",
        "--rate-burst",
        "3",
        "--trust-forwarded-for",
    ]);
    // The client writes a fresh address each time; what our proxy appended is unreadable, so
    // the request counts against the peer (the proxy), not the forged address.
    let passed = (0..30)
        .filter(|i| post_from(&server, &format!("198.51.100.{i}, unknown")) == 200)
        .count();
    assert!(passed <= 4, "{passed} of 30 passed on forged addresses");
}

#[test]
fn a_site_over_its_daily_quota_is_told_to_retry_tomorrow() {
    let server = Server::start(&["--site-daily-events", "30"]);
    let batch =
        |n: usize| serde_json::json!((0..n).map(|_| issue(&new_chat_id())).collect::<Vec<_>>());
    assert_eq!(server.post_events(&batch(20)).status, 200);
    let over = server.post_events(&batch(20));
    assert_eq!(
        (over.status, over.error().0.as_str()),
        (429, "quota_exceeded")
    );
    let retry: u64 = over.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&retry), "{retry}");
    // What still fits is taken.
    assert_eq!(server.post_events(&batch(10)).status, 200);
    assert_eq!(server.db_count("SELECT count(*) FROM events"), 30);
}
