//! [`PrivacyStore`] on PostgreSQL.

use async_trait::async_trait;

use super::PgStore;
use crate::privacy::subject::Subject;
use crate::store::privacy::{
    AuditEntry, ExpiryStep, ExpiryTarget, Forgotten, PersonData, PrivacyStore, RetentionPolicy,
};
use crate::store::StoreError;

#[async_trait]
impl PrivacyStore for PgStore {
    async fn export_person(
        &self,
        _subject: Subject,
        _audit: AuditEntry,
    ) -> Result<PersonData, StoreError> {
        Err(StoreError::NotYetOnPostgres("export_person"))
    }

    async fn forget(&self, _subject: Subject, _audit: AuditEntry) -> Result<Forgotten, StoreError> {
        Err(StoreError::NotYetOnPostgres("forget"))
    }

    async fn expire_step(
        &self,
        _target: ExpiryTarget,
        _policy: &RetentionPolicy,
        _now_ms: i64,
        _after: i64,
        _window: i64,
    ) -> Result<ExpiryStep, StoreError> {
        Err(StoreError::NotYetOnPostgres("expire_step"))
    }

    fn stored_privacy_key(&self) -> Option<&str> {
        Some(self.privacy_key())
    }
}
