//! The report page's statements and row assembly, written once for both backends (rendered by
//! [`Dialect`], rows read through [`Columns`]). The join of a conversation with its visit is
//! each backend's `conversations_with_visit!` (shared there with the Metrica export), passed in.

use crate::reports::data::{ChatRow, UnreadableRow};
use crate::store::columns::Columns;
use crate::store::dialect::Dialect;

/// Characters of the raw item shown on the page (the whole item stays in the database).
pub const RAW_SHOWN: i32 = 400;

/// Conversations started in [`$1`, `$2`), newest first, with their visit (`visit_join`: the
/// FROM clause of `conversations c` and `chats m`). Columns: see [`chat_row`].
pub fn chat_rows(d: Dialect, visit_join: &str) -> String {
    d.render(&format!(
        "SELECT c.id, c.platform, c.started_at, coalesce(c.display_name, c.username, c.phone, c.chat_user_id, ''),
                c.method, c.reason, c.answered, c.revenue, c.currency, c.tag, c.messages, c.chat_id,
                m.chat_id IS NOT NULL,
                coalesce(m.client_id, m.yclid, m.user_id, m.purchase_id) IS NOT NULL,
                m.yclid IS NOT NULL, m.utm, m.referrer, coalesce(m.collision, 0)
         {visit_join}
         WHERE c.started_at >= $1 AND c.started_at < $2
         ORDER BY c.started_at DESC, c.id DESC"
    ))
}

pub fn chat_row<R: Columns>(r: &R) -> Result<ChatRow, R::Error> {
    let utm = r.opt_text(15)?;
    let revenue = r.opt_text(7)?;
    let id_collision = r.int(17)? != 0;
    Ok(ChatRow {
        id: r.int(0)?,
        platform: r.text(1)?,
        started_ms: r.int(2)?,
        person: r.text(3)?,
        method: r.text(4)?,
        reason: r.opt_text(5)?,
        answered: r.int(6)? == 1,
        revenue: revenue.and_then(|v| v.parse().ok()),
        currency: r.opt_text(8)?,
        tag: r.opt_text(9)?,
        messages: r.int(10)?,
        chat_id: r.opt_text(11)?,
        visit_known: r.flag(12)?,
        // The export sends no visitor IDs for a colliding chat ID; the report agrees.
        has_visitor_ids: r.flag(13)? && !id_collision,
        id_collision,
        yclid: r.flag(14)?,
        utm: utm.and_then(|u| serde_json::from_str(&u).ok()),
        referrer: r.opt_text(16)?,
    })
}

/// How many items were kept raw in [`$1`, `$2`).
pub fn unreadable_count(d: Dialect) -> String {
    d.render("SELECT count(*) FROM webhook_unreadable WHERE received_at >= $1 AND received_at < $2")
}

/// The newest `$3` items kept raw in [`$1`, `$2`), each cut to `$4` characters
/// ([`RAW_SHOWN`]). Columns: see [`unreadable_row`].
pub fn unreadable_rows(d: Dialect) -> String {
    d.render(
        "SELECT platform, reason, detail, substr(raw, 1, $4::int), received_at FROM webhook_unreadable
         WHERE received_at >= $1 AND received_at < $2 ORDER BY id DESC LIMIT $3",
    )
}

pub fn unreadable_row<R: Columns>(r: &R) -> Result<UnreadableRow, R::Error> {
    Ok(UnreadableRow {
        platform: r.text(0)?,
        reason: r.text(1)?,
        detail: r.text(2)?,
        raw: r.text(3)?,
        received_ms: r.int(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(sql: &str) -> String {
        sql.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    const SELECT: &str = "SELECT c.id, c.platform, c.started_at, coalesce(c.display_name, c.username, c.phone, c.chat_user_id, ''), c.method, c.reason, c.answered, c.revenue, c.currency, c.tag, c.messages, c.chat_id, m.chat_id IS NOT NULL, coalesce(m.client_id, m.yclid, m.user_id, m.purchase_id) IS NOT NULL, m.yclid IS NOT NULL, m.utm, m.referrer, coalesce(m.collision, 0) FROM conversations c";

    #[test]
    fn chat_rows_per_engine() {
        let join = "FROM conversations c";
        assert_eq!(
            flat(&chat_rows(Dialect::Postgres, join)),
            format!("{SELECT} WHERE c.started_at >= $1 AND c.started_at < $2 ORDER BY c.started_at DESC, c.id DESC")
        );
        assert_eq!(
            flat(&chat_rows(Dialect::Sqlite, join)),
            format!("{SELECT} WHERE c.started_at >= ?1 AND c.started_at < ?2 ORDER BY c.started_at DESC, c.id DESC")
        );
    }

    #[test]
    fn unreadable_per_engine() {
        assert_eq!(
            flat(&unreadable_rows(Dialect::Postgres)),
            "SELECT platform, reason, detail, substr(raw, 1, $4::int), received_at FROM webhook_unreadable WHERE received_at >= $1 AND received_at < $2 ORDER BY id DESC LIMIT $3"
        );
        assert_eq!(
            flat(&unreadable_rows(Dialect::Sqlite)),
            "SELECT platform, reason, detail, substr(raw, 1, ?4), received_at FROM webhook_unreadable WHERE received_at >= ?1 AND received_at < ?2 ORDER BY id DESC LIMIT ?3"
        );
    }
}
