//! A chat held by an unsettled Metrica upload, for the retention suites: its WhatsApp chat is
//! put in an upload that fails (the stand-in refuses it), so Metrica has not got it yet and
//! retention must keep the chat with its visit whatever its age.

use crate::common::webhooks::whatsapp_text;
use crate::common::{Server, TS};
use crate::support::metrica_standin::Standin;

const OAUTH: &str = "y0_AgAAAAAtestOAuthToken0123456789";

/// Matches a WhatsApp chat from `phone` (message `wamid`) to `chat_id`'s visit and puts it in
/// a failed upload. Returns the stand-in, which must live as long as the test needs it.
pub fn hold_in_failed_upload(server: &Server, chat_id: &str, phone: &str, wamid: &str) -> Standin {
    let wa = whatsapp_text(phone, "A", &format!("hi {chat_id}"), TS / 1000 + 60, wamid);
    assert_eq!(server.whatsapp(&wa).status, 200);
    let standin = Standin::start(OAUTH);
    standin.fail_next(100);
    let _ = server.cli(
        &[
            "upload",
            "metrica",
            "--counter",
            "12345",
            "--from",
            "2025-01-01",
            "--metrica-api",
            &standin.base,
            "--attempts",
            "1",
            "--retry-delay",
            "10ms",
        ],
        &[("CHATTAG_METRICA_TOKEN", OAUTH)],
    );
    assert_eq!(
        server.db_count(&format!(
            "SELECT count(*) FROM metrica_sent s JOIN conversations c ON c.id = s.conversation
             WHERE c.chat_id = '{chat_id}' AND s.upload IN
               (SELECT id FROM metrica_uploads WHERE state IN ('failed', 'pending'))"
        )),
        1,
        "the held chat should be in the failed upload"
    );
    standin
}
