//! Scheduled uploads run once across processes: two `upload metrica --every` processes on one
//! database (the server's, SQLite or PostgreSQL as the suite runs) take turns through a lease.
//! Started at the same moment, one uploads and the other waits; when the one uploading is
//! killed with SIGKILL, the other takes over and sends only what is new.

mod common;
#[path = "support/metrica_standin.rs"]
mod metrica_standin;
#[path = "support/upload_process.rs"]
mod upload_process;

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
