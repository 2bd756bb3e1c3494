//! CORS per allowed site: allowed origins get their origin echoed, others are refused and
//! store nothing; the preflight for application/json is answered.

use crate::common;

use common::*;

#[test]
fn allowed_origin_gets_its_origin_back() {
    let server = Server::start(&["--allowed-origin", "https://www.other.example"]);
    for origin in [ORIGIN, "https://www.other.example"] {
        let body = serde_json::to_vec(&issue(&new_chat_id())).unwrap();
        let res = server.request(
            "POST",
            "/v1/events",
            &[("Origin", origin), ("Content-Type", "text/plain")],
            &body,
        );
        assert_eq!(
            res.status,
            200,
            "{origin}: {}",
            String::from_utf8_lossy(&res.body)
        );
        assert_eq!(res.header("access-control-allow-origin"), Some(origin));
        assert!(res.header("vary").is_some_and(|v| v.contains("Origin")));
    }
    // Stored under each origin's site: host without "www.".
    assert_eq!(
        server.db_count("SELECT count(*) FROM chats WHERE site = 'shop.example'"),
        1
    );
    assert_eq!(
        server.db_count("SELECT count(*) FROM chats WHERE site = 'other.example'"),
        1
    );
}

#[test]
fn other_origins_and_missing_origin_are_refused_and_store_nothing() {
    let server = Server::start(&[]);
    let body = serde_json::to_vec(&issue(&new_chat_id())).unwrap();
    for origin in [
        "https://evil.example",
        "http://shop.example",
        "https://shop.example:8443",
        "https://shop.example.evil.example",
        "null",
    ] {
        let res = server.request(
            "POST",
            "/v1/events",
            &[("Origin", origin), ("Content-Type", "text/plain")],
            &body,
        );
        assert_eq!(res.status, 403, "{origin}");
        assert_eq!(res.error().0, "origin_not_allowed", "{origin}");
        assert_eq!(res.header("access-control-allow-origin"), None, "{origin}");
    }
    let res = server.request(
        "POST",
        "/v1/events",
        &[("Content-Type", "text/plain")],
        &body,
    );
    assert_eq!(res.status, 403);
    assert_eq!(res.error().0, "origin_missing");
    assert_eq!(server.db_count("SELECT count(*) FROM events"), 0);
}

#[test]
fn preflight_for_json_is_answered_for_allowed_origins_only() {
    let server = Server::start(&[]);
    let preflight = |origin: &str| {
        server.request(
            "OPTIONS",
            "/v1/events",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "content-type"),
            ],
            b"",
        )
    };
    let ok = preflight(ORIGIN);
    assert_eq!(ok.status, 204);
    assert_eq!(ok.header("access-control-allow-origin"), Some(ORIGIN));
    assert!(ok
        .header("access-control-allow-methods")
        .is_some_and(|m| m.contains("POST")));
    assert!(ok
        .header("access-control-allow-headers")
        .is_some_and(|h| h.contains("content-type")));
    assert!(ok.header("access-control-max-age").is_some());

    let refused = preflight("https://evil.example");
    assert_eq!(refused.status, 403);
    assert_eq!(refused.header("access-control-allow-origin"), None);

    let body = serde_json::to_vec(&issue(&new_chat_id())).unwrap();
    let res = server.request(
        "POST",
        "/v1/events",
        &[("Origin", ORIGIN), ("Content-Type", "application/json")],
        &body,
    );
    assert_eq!(res.status, 200);
    assert_eq!(res.header("access-control-allow-origin"), Some(ORIGIN));
}
