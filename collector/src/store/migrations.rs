//! The schema of both engines from one place: one ordered list of steps, each with its SQLite
//! and its PostgreSQL SQL (same file name under `sqlite/migrations/` and
//! `postgres/migrations/`). Each engine applies the steps it has not recorded, in order, once,
//! tracked by name in `schema_migrations`. Never edit an applied step; add the next one to
//! both directories.
//!
//! The names are the ones SQLite databases already carry (they predate the numbering), so an
//! existing database upgrades without re-running anything.

#[derive(Debug)]
pub struct Step {
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

macro_rules! step {
    ($name:literal, $file:literal) => {
        Step {
            name: $name,
            sqlite: include_str!(concat!("sqlite/migrations/", $file)),
            postgres: include_str!(concat!("postgres/migrations/", $file)),
        }
    };
}

/// Every step in the order it is applied.
pub const STEPS: &[Step] = &[
    step!("events_0001_initial", "0001_events_initial.sql"),
    step!("events_0002_inbox", "0002_events_inbox.sql"),
    step!(
        "events_0003_chat_event_list",
        "0003_events_chat_event_list.sql"
    ),
    step!("chats_0001_conversations", "0004_chats_conversations.sql"),
    step!("metrica_0001_uploads", "0005_metrica_uploads.sql"),
    step!("chats_0002_webhook_intake", "0006_chats_webhook_intake.sql"),
    step!("metrica_0002_later_facts", "0007_metrica_later_facts.sql"),
    step!("privacy_0001_audit", "0008_privacy_audit.sql"),
    step!("metrica_0003_sent_by_time", "0009_metrica_sent_by_time.sql"),
    step!("scheduled_0001_leases", "0010_scheduled_leases.sql"),
];

/// Every step in the order it is applied.
pub fn all() -> Vec<&'static Step> {
    STEPS.iter().collect()
}

/// The first name listed twice, if any (a step added twice by a merge).
pub fn duplicate(steps: &[&'static Step]) -> Option<&'static str> {
    let mut seen = std::collections::HashSet::new();
    steps.iter().find(|s| !seen.insert(s.name)).map(|s| s.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_is_named_once_and_has_sql_for_both_engines() {
        assert_eq!(duplicate(&all()), None);
        for s in STEPS {
            assert!(!s.sqlite.trim().is_empty(), "{}", s.name);
            assert!(!s.postgres.trim().is_empty(), "{}", s.name);
        }
    }
}
