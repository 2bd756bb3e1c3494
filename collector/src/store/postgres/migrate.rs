//! Applying the schema steps of [`crate::store::migrations`] to PostgreSQL: under a
//! session-level advisory lock, so that instances starting at the same moment apply each step
//! once (the second waits, then finds everything recorded); each step in its own transaction.

use tokio_postgres::Client;

use crate::store::migrations::{duplicate, Step};
use crate::store::StoreError;

/// The advisory lock key of schema changes ("chattag" and 1).
const MIGRATION_LOCK: i64 = 0x6368_6174_7461_6701;

/// Applies the steps not yet recorded; returns how many it applied.
pub async fn apply(client: &mut Client, steps: &[&'static Step]) -> Result<usize, StoreError> {
    if let Some(name) = duplicate(steps) {
        return Err(StoreError::DuplicateMigration(name));
    }
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let result = apply_locked(client, steps).await;
    // The lock ends with the session anyway; unlocking lets a waiting instance go on at once.
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    let applied = result?;
    unlocked?;
    Ok(applied)
}

async fn apply_locked(client: &mut Client, steps: &[&'static Step]) -> Result<usize, StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 name TEXT PRIMARY KEY,
                 applied_at BIGINT NOT NULL
             )",
        )
        .await?;
    let mut applied = 0;
    for step in steps {
        let done = client
            .query_opt(
                "SELECT 1 FROM schema_migrations WHERE name = $1",
                &[&step.name],
            )
            .await?
            .is_some();
        if done {
            continue;
        }
        let tx = client.transaction().await?;
        tx.batch_execute(step.postgres)
            .await
            .map_err(|source| StoreError::PgMigration {
                name: step.name,
                source,
            })?;
        tx.execute(
            "INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)",
            &[&step.name, &crate::clock::now_ms()],
        )
        .await?;
        tx.commit().await?;
        applied += 1;
    }
    Ok(applied)
}
