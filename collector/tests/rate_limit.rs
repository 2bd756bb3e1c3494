//! Per-address rate limit: the burst passes, the next request gets 429 with Retry-After (and
//! CORS headers, so the snippet can see it and keep its events).

mod common;

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
