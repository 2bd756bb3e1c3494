//! The Metrica side on PostgreSQL: `store/sqlite/metrica.rs` ported statement by statement.
//!
//! Several instances: a chat is reserved for a counter once, by the primary key of
//! `metrica_sent` (counter, conversation). A new file inserts its reservations with
//! `ON CONFLICT DO NOTHING`; if any was taken meanwhile (another instance exported the same
//! chats), the whole file is rolled back and refused ([`StoreError::AlreadyReserved`]), so two
//! instances can never both upload a chat. A forced export (`--force`) re-reserves, as on
//! SQLite.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;

use super::sql::{exec, one, opt, rows};
use super::PgStore;
use crate::clock::now_ms;
use crate::metrica::conversions::{ConversionRow, LateRevenue};
use crate::metrica::export::{ExportChat, WrittenRow};
use crate::metrica::probable::Evidence;
use crate::metrica::rules::{Candidate, CandidateKey, CandidateQuery};
use crate::metrica::upload::Uploading;
use crate::metrica::uploads::{
    CounterSummary, PendingUpload, UploadKind, UploadState, UploadTotals, MAX_ATTEMPTS,
};
use crate::store::{MetricaStore, StoreError};

/// Conversations `c` joined with the visit `m` of their chat ID (SQLite's
/// `conversations_with_visit!`, the same rule).
macro_rules! conversations_with_visit {
    () => {
        " FROM conversations c
         LEFT JOIN chats m ON m.chat_id = c.chat_id AND m.site = coalesce(c.site,
              (SELECT x.site FROM chats x WHERE x.chat_id = c.chat_id ORDER BY x.last_seen DESC LIMIT 1))
         "
    };
}
pub(super) use conversations_with_visit;

fn counter_i64(counter: u64) -> i64 {
    counter as i64
}

#[async_trait]
impl MetricaStore for PgStore {
    async fn export_candidates(&self, query: CandidateQuery) -> Result<Vec<Candidate>, StoreError> {
        let c = self.client().await?;
        candidates(&c, &query).await
    }

    async fn candidate_bound(
        &self,
        query: CandidateQuery,
    ) -> Result<Option<CandidateKey>, StoreError> {
        let c = self.client().await?;
        let (after_start, after_id) = query.after_bounds();
        Ok(opt(
            &c,
            "SELECT started_at, id FROM conversations
             WHERE started_at >= $1 AND started_at < $2 AND (started_at > $3 OR id > $4)
             ORDER BY started_at, id LIMIT 1 OFFSET $5",
            &[
                &query.from_ms.max(after_start),
                &query.to_ms,
                &after_start,
                &after_id,
                &(i64::from(query.limit.max(1)) - 1),
            ],
        )
        .await?
        .map(|r| CandidateKey {
            started_ms: r.get(0),
            conversation: r.get(1),
        }))
    }

    async fn latest_sent_second(&self, counter: u64) -> Result<Option<i64>, StoreError> {
        let c = self.client().await?;
        Ok(one(
            &c,
            "SELECT max(date_time) FROM metrica_sent WHERE counter = $1",
            &[&counter_i64(counter)],
        )
        .await?
        .get(0))
    }

    async fn retry_candidate(&self, counter: u64) -> Result<Option<PendingUpload>, StoreError> {
        let c = self.client().await?;
        Ok(opt(
            &c,
            "SELECT id, csv, rows, attempts, kind, created_at FROM metrica_uploads
             WHERE counter = $1 AND state IN ('pending', 'failed') ORDER BY id LIMIT 1",
            &[&counter_i64(counter)],
        )
        .await?
        .map(|r| PendingUpload {
            id: r.get(0),
            counter,
            kind: UploadKind::parse(&r.get::<_, String>(4)),
            csv: r.get(1),
            rows: r.get(2),
            attempts: r.get(3),
            created_ms: r.get(5),
        }))
    }

    async fn create_upload(
        &self,
        counter: u64,
        csv: String,
        rows: Vec<WrittenRow>,
        forced: bool,
        now: i64,
    ) -> Result<i64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let upload: i64 = one(
            &tx,
            "INSERT INTO metrica_uploads (counter, created_at, updated_at, rows, state, forced, csv)
             VALUES ($1, $2, $2, $3, 'pending', $4, $5) RETURNING id",
            &[
                &counter_i64(counter),
                &now,
                &(rows.len() as i64),
                &i64::from(forced),
                &csv,
            ],
        )
        .await?
        .get(0);
        let sql = if forced {
            "INSERT INTO metrica_sent (counter, conversation, upload, date_time, client_id, user_id, yclid, purchase_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (counter, conversation) DO UPDATE SET upload = excluded.upload, date_time = excluded.date_time,
                 client_id = excluded.client_id, user_id = excluded.user_id, yclid = excluded.yclid, purchase_id = excluded.purchase_id"
        } else {
            "INSERT INTO metrica_sent (counter, conversation, upload, date_time, client_id, user_id, yclid, purchase_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (counter, conversation) DO NOTHING"
        };
        let statement = tx.prepare_cached(sql).await?;
        let mut taken = 0;
        for row in &rows {
            let inserted = tx
                .execute(
                    &statement,
                    &[
                        &counter_i64(counter),
                        &row.conversation,
                        &upload,
                        &row.date_time,
                        &row.client_id,
                        &row.user_id,
                        &row.yclid,
                        &row.purchase_id,
                    ],
                )
                .await?;
            if inserted == 0 {
                taken += 1;
            }
        }
        if taken > 0 {
            // Dropping the transaction rolls it back: nothing of this file is kept.
            return Err(StoreError::AlreadyReserved {
                counter,
                chats: taken,
            });
        }
        tx.commit().await?;
        Ok(upload)
    }

    async fn mark_sent(&self, upload: i64, u: Uploading) -> Result<(), StoreError> {
        let c = self.client().await?;
        exec(
            &c,
            "UPDATE metrica_uploads SET state = 'sent', attempts = attempts + 1, metrica_id = $2, status = $3,
                 source_quantity = $4, line_quantity = $5, error = NULL, updated_at = $6 WHERE id = $1",
            &[
                &upload,
                &(u.id as i64),
                &u.status,
                &u.source_quantity.map(|v| v as i64),
                &u.line_quantity.map(|v| v as i64),
                &now_ms(),
            ],
        )
        .await?;
        Ok(())
    }

    async fn mark_status(&self, upload: i64, u: Uploading) -> Result<(), StoreError> {
        let c = self.client().await?;
        exec(
            &c,
            "UPDATE metrica_uploads SET status = $2, source_quantity = coalesce($3, source_quantity),
                 line_quantity = coalesce($4, line_quantity), updated_at = $5 WHERE id = $1",
            &[
                &upload,
                &u.status,
                &u.source_quantity.map(|v| v as i64),
                &u.line_quantity.map(|v| v as i64),
                &now_ms(),
            ],
        )
        .await?;
        Ok(())
    }

    async fn mark_failed(&self, upload: i64, error: String) -> Result<UploadState, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let attempts: i64 = one(
            &tx,
            "UPDATE metrica_uploads SET attempts = attempts + 1, error = $2, updated_at = $3, state = 'failed'
             WHERE id = $1 RETURNING attempts",
            &[&upload, &error, &now_ms()],
        )
        .await?
        .get(0);
        let state = if attempts >= MAX_ATTEMPTS {
            exec(
                &tx,
                "UPDATE metrica_uploads SET state = 'abandoned' WHERE id = $1",
                &[&upload],
            )
            .await?;
            exec(
                &tx,
                "DELETE FROM metrica_sent WHERE upload = $1",
                &[&upload],
            )
            .await?;
            exec(
                &tx,
                "DELETE FROM metrica_facts_sent WHERE upload = $1",
                &[&upload],
            )
            .await?;
            UploadState::Abandoned
        } else {
            UploadState::Failed
        };
        tx.commit().await?;
        Ok(state)
    }

    async fn unfinished(&self, counter: u64) -> Result<Vec<(i64, u64, u64)>, StoreError> {
        let c = self.client().await?;
        Ok(rows(
            &c,
            "SELECT id, metrica_id FROM metrica_uploads
             WHERE counter = $1 AND state = 'sent' AND metrica_id IS NOT NULL
               AND coalesce(status, '') NOT IN ('PROCESSED', 'LINKAGE_FAILURE')",
            &[&counter_i64(counter)],
        )
        .await?
        .iter()
        .map(|r| (r.get::<_, i64>(0), counter, r.get::<_, i64>(1) as u64))
        .collect())
    }

    async fn upload_summaries(&self) -> Result<Vec<CounterSummary>, StoreError> {
        let c = self.client().await?;
        let mut out: Vec<CounterSummary> = rows(
            &c,
            "SELECT u.counter,
                    (SELECT count(*) FROM metrica_sent s WHERE s.counter = u.counter),
                    count(*), count(*) FILTER (WHERE u.state = 'failed'),
                    (SELECT coalesce(x.status, x.state) FROM metrica_uploads x WHERE x.counter = u.counter ORDER BY x.id DESC LIMIT 1),
                    max(u.updated_at),
                    (SELECT count(*) FROM metrica_facts_sent f WHERE f.counter = u.counter)
             FROM metrica_uploads u GROUP BY u.counter ORDER BY u.counter",
            &[],
        )
        .await?
        .iter()
        .map(|r| CounterSummary {
            counter: r.get::<_, i64>(0) as u64,
            chats_sent: r.get(1),
            uploads: r.get(2),
            failed: r.get(3),
            last_status: r.get(4),
            last_at: r.get(5),
            conversions_sent: r.get(6),
            refused_columns: Vec::new(),
        })
        .collect();
        for s in &mut out {
            s.refused_columns = refused_columns(&c, s.counter).await?;
        }
        Ok(out)
    }

    async fn upload_totals(&self) -> Result<UploadTotals, StoreError> {
        let c = self.client().await?;
        let uploads = rows(
            &c,
            "SELECT counter, state, coalesce(status, ''), count(*) FROM metrica_uploads GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            &[],
        )
        .await?
        .iter()
        .map(|r| {
            (
                (r.get::<_, i64>(0) as u64, r.get(1), r.get(2)),
                r.get(3),
            )
        })
        .collect();
        let chats_sent = rows(
            &c,
            "SELECT counter, count(*) FROM metrica_sent GROUP BY counter ORDER BY counter",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get::<_, i64>(0) as u64, r.get(1)))
        .collect();
        Ok(UploadTotals {
            uploads,
            chats_sent,
        })
    }

    async fn late_revenue(
        &self,
        counter: u64,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<LateRevenue>, StoreError> {
        let c = self.client().await?;
        Ok(rows(
            &c,
            "SELECT c.id, s.client_id, s.user_id, s.yclid, s.purchase_id, c.revenue, c.currency,
                    coalesce(c.revenue_at, c.updated_at)
             FROM metrica_sent s
             JOIN metrica_uploads u ON u.id = s.upload AND u.state = 'sent'
             JOIN conversations c ON c.id = s.conversation
             WHERE s.counter = $1 AND s.conversation > $2 AND c.revenue IS NOT NULL AND c.currency IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM metrica_facts_sent f
                               WHERE f.counter = $1 AND f.conversation = c.id AND f.kind = 'revenue')
             ORDER BY s.conversation
             LIMIT $3",
            &[&counter_i64(counter), &after.unwrap_or(i64::MIN), &i64::from(limit)],
        )
        .await?
        .iter()
        .map(|r| LateRevenue {
            conversation: r.get(0),
            client_id: r.get(1),
            user_id: r.get(2),
            yclid: r.get(3),
            purchase_id: r.get(4),
            price: r.get(5),
            currency: r.get(6),
            recorded_ms: r.get(7),
        })
        .collect())
    }

    async fn create_conversion_upload(
        &self,
        counter: u64,
        target: String,
        csv: String,
        rows: Vec<ConversionRow>,
        now: i64,
    ) -> Result<i64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let upload: i64 = one(
            &tx,
            "INSERT INTO metrica_uploads (counter, created_at, updated_at, rows, state, csv, kind)
             VALUES ($1, $2, $2, $3, 'pending', $4, 'conversions') RETURNING id",
            &[&counter_i64(counter), &now, &(rows.len() as i64), &csv],
        )
        .await?
        .get(0);
        let statement = tx
            .prepare_cached(
                "INSERT INTO metrica_facts_sent (counter, conversation, kind, upload, date_time, target, price, currency)
                 VALUES ($1, $2, 'revenue', $3, $4, $5, $6, $7)",
            )
            .await?;
        for row in &rows {
            tx.execute(
                &statement,
                &[
                    &counter_i64(counter),
                    &row.conversation,
                    &upload,
                    &row.date_time,
                    &target,
                    &row.price,
                    &row.currency,
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(upload)
    }

    async fn refuse_columns(
        &self,
        upload: i64,
        names: Vec<String>,
        message: String,
        csv: String,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let now = now_ms();
        let counter: i64 = one(
            &tx,
            "UPDATE metrica_uploads SET csv = $2, error = $3, updated_at = $4 WHERE id = $1 RETURNING counter",
            &[&upload, &csv, &message, &now],
        )
        .await?
        .get(0);
        for name in &names {
            exec(
                &tx,
                "INSERT INTO metrica_refused_columns (counter, name, upload, refused_at, message) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (counter, name) DO UPDATE SET upload = excluded.upload, refused_at = excluded.refused_at, message = excluded.message",
                &[&counter, name, &upload, &now, &message],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn probable_evidence(
        &self,
        from_ms: i64,
        to_ms: i64,
        window_ms: i64,
    ) -> Result<Vec<Evidence>, StoreError> {
        let c = self.client().await?;
        Ok(rows(
            &c,
            "SELECT c.platform,
                    count(*) FILTER (WHERE c.method IN ('exact-link', 'exact-text')),
                    count(*) FILTER (WHERE c.method IN ('exact-link', 'exact-text') AND (
                        SELECT count(DISTINCT k.chat_id) FROM clicks k
                        WHERE k.messenger = c.platform AND k.ts BETWEEN c.started_at - $3 AND c.started_at
                          AND k.chat_id <> c.chat_id
                          AND NOT EXISTS (SELECT 1 FROM conversations x WHERE x.chat_id = k.chat_id
                                          AND x.method IN ('exact-link', 'exact-text') AND x.started_at <= c.started_at)
                    ) = 1),
                    count(*) FILTER (WHERE c.method = 'probable-click' OR (c.method = 'unmatched'
                        AND c.reason IN ('no-id-no-click', 'ambiguous-clicks', 'damaged-id'))),
                    count(*) FILTER (WHERE c.method = 'probable-click')
             FROM conversations c
             WHERE c.started_at >= $1 AND c.started_at < $2
               AND c.platform IN ('whatsapp', 'telegram', 'viber', 'max')
             GROUP BY c.platform ORDER BY c.platform",
            &[&from_ms, &to_ms, &window_ms],
        )
        .await?
        .iter()
        .map(|r| Evidence {
            platform: r.get(0),
            coded: r.get(1),
            coded_false_hits: r.get(2),
            codeless: r.get(3),
            accepted: r.get(4),
        })
        .collect())
    }

    async fn refused_columns(&self, counter: u64) -> Result<Vec<String>, StoreError> {
        let c = self.client().await?;
        refused_columns(&c, counter).await
    }
}

/// One page of conversations started in `[from_ms, to_ms)` after `query.after` in the order
/// `(started_at, id)`, joined with the visitor IDs of their chat ID, each with the seconds its
/// visitor IDs already take on the counter in its nudge window (see SQLite's `candidates`).
async fn candidates<C: GenericClient>(
    c: &C,
    query: &CandidateQuery,
) -> Result<Vec<Candidate>, StoreError> {
    let (after_start, after_id) = query.after_bounds();
    let (until_start, until_id) = query.until_bounds();
    let found = rows(
        c,
        concat!(
            "SELECT c.id, c.platform, c.started_at, c.chat_user_id, c.username, c.phone, c.answered, c.tag,
                    c.revenue, c.currency, c.page_url, c.chat_url, c.method, c.messages,
                    m.site, m.client_id, m.user_id, m.yclid, m.purchase_id, m.landing_page,
                    (SELECT k.body::jsonb ->> 'page' FROM events k
                        WHERE k.site = m.site AND k.chat_id = m.chat_id AND k.kind = 'click'
                        AND k.body::jsonb ->> 'page' IS NOT NULL
                        AND k.ts <= c.started_at + 120000 ORDER BY k.ts DESC, k.id DESC LIMIT 1),
                    coalesce(m.collision, 0), m.first_ts,
                    CASE WHEN NOT $3 AND coalesce(m.collision, 0) = 0
                              AND least(c.started_at / 1000, $8::bigint - 1) - $9::bigint <= $10::bigint THEN
                    (SELECT array_agg(s.date_time) FROM metrica_sent s
                        WHERE s.counter = $4
                          AND s.date_time BETWEEN least(c.started_at / 1000, $8::bigint - 1) - $9::bigint AND least(c.started_at / 1000, $8::bigint - 1)
                          AND (s.client_id = m.client_id OR s.user_id = m.user_id
                               OR s.yclid = m.yclid OR s.purchase_id = m.purchase_id)) END
",
            conversations_with_visit!(),
            // $1 is the later of `from` and the last key's start: each page is an index range
            // that begins where the last one ended.
            "         WHERE c.started_at >= $1 AND c.started_at < $2
               AND (c.started_at > $5 OR c.id > $6)
               AND c.started_at <= $11 AND (c.started_at < $11 OR c.id <= $12)
               AND ($3 OR NOT EXISTS (SELECT 1 FROM metrica_sent s WHERE s.counter = $4 AND s.conversation = c.id))
             ORDER BY c.started_at, c.id
             LIMIT $7"
        ),
        &[
            &query.from_ms.max(after_start),
            &query.to_ms,
            &query.include_sent,
            &counter_i64(query.counter),
            &after_start,
            &after_id,
            &i64::from(query.limit),
            &query.now_s,
            &crate::metrica::export::MAX_NUDGE_S,
            &query.sent_until_s.unwrap_or(i64::MAX),
            &until_start,
            &until_id,
        ],
    )
    .await?;
    Ok(found
        .iter()
        .map(|r| {
            let click_page: Option<String> = r.get(20);
            let landing: Option<String> = r.get(19);
            let page_url: Option<String> = r.get(10);
            let id_collision = r.get::<_, i64>(21) != 0;
            // With a collision only the CRM's own page is used (see SQLite's).
            let visit_page = if id_collision {
                None
            } else {
                click_page.or(landing)
            };
            Candidate {
                chat: ExportChat {
                    conversation: r.get(0),
                    platform: r.get(1),
                    started_ms: r.get(2),
                    chat_user_id: r.get(3),
                    username: r.get(4),
                    phone: r.get(5),
                    answered: r.get::<_, i64>(6) == 1,
                    tag: r.get(7),
                    revenue: r.get(8),
                    currency: r.get(9),
                    page_url: page_url.or(visit_page),
                    chat_url: r.get(11),
                    client_id: r.get(15),
                    user_id: r.get(16),
                    yclid: r.get(17),
                    purchase_id: r.get(18),
                    id_collision,
                }
                .without_colliding_ids(),
                site: r.get(14),
                method: r.get(12),
                messages: u32::try_from(r.get::<_, i64>(13)).unwrap_or(u32::MAX),
                visit_ms: r.get(22),
                taken: r.get::<_, Option<Vec<i64>>>(23).unwrap_or_default(),
            }
        })
        .collect())
}

async fn refused_columns<C: GenericClient>(c: &C, counter: u64) -> Result<Vec<String>, StoreError> {
    Ok(rows(
        c,
        "SELECT name FROM metrica_refused_columns WHERE counter = $1 ORDER BY name",
        &[&counter_i64(counter)],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect())
}
