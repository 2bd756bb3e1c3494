//! Scheduled uploads run once across processes: two `upload metrica --every` processes on one
//! database (the server's, SQLite or PostgreSQL as the suite runs) take turns through a lease.
//! Started at the same moment, one uploads and the other waits; when the one uploading is
//! killed with SIGKILL, the other takes over and sends only what is new.

use crate::common;
use crate::support::upload_process;

use common::webhooks::Messenger;
use common::Server;

#[test]
fn two_scheduled_uploads_send_once_and_the_survivor_takes_over_after_sigkill() {
    let server = Server::start_with_webhooks(&[Messenger::Telegram], &[]);
    let db = server
        .db_arg()
        .into_string()
        .expect("UTF-8 database argument");
    upload_process::two_uploads_take_turns(&server, &server, &db, &|sql| server.db_count(sql));
}

/// The lease rows naming `name` (holder, as stored), read after the server has stopped.
fn lease_holders(server: &Server, name: &str) -> Vec<String> {
    let sql = "SELECT holder FROM leases WHERE name = $1";
    match server.pg_client() {
        Some(mut client) => client
            .query(sql, &[&name])
            .expect("read leases")
            .iter()
            .map(|r| r.get(0))
            .collect(),
        None => {
            let conn = common::read_only(&server.db);
            let mut st = conn.prepare(&sql.replace("$1", "?1")).expect("prepare");
            let rows = st
                .query_map([name], |r| r.get(0))
                .expect("read leases")
                .collect::<Result<Vec<String>, _>>()
                .expect("rows");
            rows
        }
    }
}

/// A collector stopped cleanly (SIGTERM) gives its retention lease up, so that another
/// instance runs retention from its next claim rather than after the TTL (30 s by default).
#[test]
fn sigterm_gives_the_retention_lease_up() {
    let conf_dir = tempfile::tempdir().unwrap();
    let conf = conf_dir.path().join("chattag.toml");
    std::fs::write(&conf, "[privacy.retention]\ninterval = \"300ms\"\n").unwrap();
    let mut server = Server::start(&["--config", conf.to_str().unwrap()]);
    // It claims the lease at start.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while server.db_count("SELECT count(*) FROM leases WHERE name = 'privacy-expiry'") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never claimed the retention lease"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        server.terminate(),
        "the server did not exit cleanly on SIGTERM"
    );
    assert_eq!(
        lease_holders(&server, "privacy-expiry"),
        Vec::<String>::new(),
        "the stopped server still holds the retention lease"
    );
}
