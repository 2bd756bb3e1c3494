//! The report page's rows on PostgreSQL: `store/sqlite/reports.rs` ported.

use async_trait::async_trait;

use super::metrica::conversations_with_visit;
use super::sql::{one, rows};
use super::PgStore;
use crate::reports::data::{ChatRow, UnreadableRow};
use crate::store::{ReportStore, StoreError};

/// Characters of the raw item shown on the page (the whole item stays in the database).
const RAW_SHOWN: i64 = 400;

#[async_trait]
impl ReportStore for PgStore {
    async fn report_rows(&self, from_ms: i64, to_ms: i64) -> Result<Vec<ChatRow>, StoreError> {
        let c = self.client().await?;
        let found = rows(
            &c,
            concat!(
                "SELECT c.id, c.platform, c.started_at, coalesce(c.display_name, c.username, c.phone, c.chat_user_id, ''),
                        c.method, c.reason, c.answered, c.revenue, c.currency, c.tag, c.messages, c.chat_id,
                        m.chat_id IS NOT NULL,
                        coalesce(m.client_id, m.yclid, m.user_id, m.purchase_id) IS NOT NULL,
                        m.yclid IS NOT NULL, m.utm, m.referrer, coalesce(m.collision, 0)
",
                conversations_with_visit!(),
                "         WHERE c.started_at >= $1 AND c.started_at < $2
                 ORDER BY c.started_at DESC, c.id DESC"
            ),
            &[&from_ms, &to_ms],
        )
        .await?;
        Ok(found
            .iter()
            .map(|r| {
                let utm: Option<String> = r.get(15);
                let revenue: Option<String> = r.get(7);
                let id_collision = r.get::<_, i64>(17) != 0;
                ChatRow {
                    id: r.get(0),
                    platform: r.get(1),
                    started_ms: r.get(2),
                    person: r.get(3),
                    method: r.get(4),
                    reason: r.get(5),
                    answered: r.get::<_, i64>(6) == 1,
                    revenue: revenue.and_then(|v| v.parse().ok()),
                    currency: r.get(8),
                    tag: r.get(9),
                    messages: r.get(10),
                    chat_id: r.get(11),
                    visit_known: r.get(12),
                    // The export sends no visitor IDs for a colliding chat ID; the report agrees.
                    has_visitor_ids: r.get::<_, bool>(13) && !id_collision,
                    id_collision,
                    yclid: r.get(14),
                    utm: utm.and_then(|u| serde_json::from_str(&u).ok()),
                    referrer: r.get(16),
                }
            })
            .collect())
    }

    async fn unreadable(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: u32,
    ) -> Result<(i64, Vec<UnreadableRow>), StoreError> {
        let c = self.client().await?;
        let count: i64 = one(
            &c,
            "SELECT count(*) FROM webhook_unreadable WHERE received_at >= $1 AND received_at < $2",
            &[&from_ms, &to_ms],
        )
        .await?
        .get(0);
        let found = rows(
            &c,
            "SELECT platform, reason, detail, substr(raw, 1, $4::int), received_at FROM webhook_unreadable
             WHERE received_at >= $1 AND received_at < $2 ORDER BY id DESC LIMIT $3",
            &[&from_ms, &to_ms, &i64::from(limit), &(RAW_SHOWN as i32)],
        )
        .await?;
        Ok((
            count,
            found
                .iter()
                .map(|r| UnreadableRow {
                    platform: r.get(0),
                    reason: r.get(1),
                    detail: r.get(2),
                    raw: r.get(3),
                    received_ms: r.get(4),
                })
                .collect(),
        ))
    }
}
